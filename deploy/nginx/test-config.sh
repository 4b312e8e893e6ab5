#!/bin/sh
# `nginx -t` on the proxy's configuration rendered with docker-compose.yml's values (and a
# self-signed certificate made by the proxy's own script). Needs nginx, envsubst (gettext-base)
# and openssl; .ci/run runs it.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

export TANDEM_RESOLVER=127.0.0.11 TANDEM_UPSTREAM=web:8000 TANDEM_HTTP_PORT=80 TANDEM_HTTPS_PORT=443
export TANDEM_TLS_DIR="$work/certs" TANDEM_TLS_HOSTNAMES=localhost
sh "$here/self-signed-cert.sh" >/dev/null
sh "$here/render.sh" "$work"
nginx -t -p "$work" -c "$work/nginx.conf"
