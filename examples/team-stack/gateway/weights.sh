#!/bin/sh
# weights.sh STABLE CANARY [--no-reload]: the share of each server (0-100), written as the upstream "models"
# and reloaded gracefully (in-flight requests finish on the old workers). A server at 0 is left out.
set -eu
stable=$1 canary=$2
[ $((stable + canary)) -gt 0 ] || { echo "weights.sh: both weights 0" >&2; exit 2; }
{
  echo "upstream models {"
  [ "$stable" -gt 0 ] && echo "    server stable:8080 weight=$stable;"
  [ "$canary" -gt 0 ] && echo "    server canary:8080 weight=$canary;"
  echo "    keepalive 16;"
  echo "}"
} > /etc/nginx/upstream.conf
[ "${3:-}" = "--no-reload" ] || { nginx -t -q && nginx -s reload; }
echo "gateway: stable $stable, canary $canary"
