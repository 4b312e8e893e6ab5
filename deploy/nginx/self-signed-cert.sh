#!/bin/sh
# Makes a self-signed certificate for local use when the proxy starts and none is there.
# Mounted into the nginx image's /docker-entrypoint.d/, which runs it before nginx starts.
# A real certificate (tls.crt: the full chain, tls.key: its key) in TANDEM_TLS_DIR is left alone.
set -eu

dir="${TANDEM_TLS_DIR:-/etc/nginx/certs}"
names="${TANDEM_TLS_HOSTNAMES:-localhost}"

if [ -s "$dir/tls.crt" ] && [ -s "$dir/tls.key" ]; then
    exit 0
fi

san=""
first=""
for name in $(echo "$names" | tr ',' ' '); do
    [ -n "$first" ] || first="$name"
    san="${san:+$san,}DNS:$name"
done

mkdir -p "$dir"
umask 077
openssl req -x509 -newkey rsa:2048 -nodes -days 825 -sha256 \
    -subj "/CN=$first" -addext "subjectAltName=$san" \
    -keyout "$dir/tls.key.new" -out "$dir/tls.crt.new" 2>/dev/null
chmod 644 "$dir/tls.crt.new"
mv "$dir/tls.key.new" "$dir/tls.key"
mv "$dir/tls.crt.new" "$dir/tls.crt"
echo "$0: made a self-signed certificate for $names in $dir; put a real one there (README: The certificate)"
