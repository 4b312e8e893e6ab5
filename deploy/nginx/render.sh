#!/bin/sh
# Renders the proxy's configuration into DIR as the nginx image does at start (envsubst of the
# TANDEM_* variables into conf.d/default.conf), plus a main nginx.conf like the image's
# (http { include conf.d/*.conf; }) with its pid and temporary files in DIR. For CI
# (test-config.sh) and tests/test_deploy.py, which run Debian's nginx with it: not used in the image.
set -eu
dir="$1"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$dir/conf.d"
envsubst '${TANDEM_RESOLVER} ${TANDEM_UPSTREAM} ${TANDEM_HTTP_PORT} ${TANDEM_HTTPS_PORT} ${TANDEM_TLS_DIR}' \
    < "$here/templates/default.conf.template" > "$dir/conf.d/default.conf"
if grep -n '\${' "$dir/conf.d/default.conf"; then
    echo "$0: a template variable above has no value" >&2
    exit 1
fi
cat > "$dir/nginx.conf" <<CONF
pid $dir/nginx.pid;
error_log stderr;
worker_processes 2;
events { worker_connections 1024; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    client_body_temp_path $dir/client_body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    include $dir/conf.d/*.conf;
}
CONF
