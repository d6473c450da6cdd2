#!/bin/bash
# Room sockets through nginx with a pool of kept-alive upstream connections (`keepalive` in the
# upstream block, the common recipe): nginx sends a browser's upgrade on a pooled connection that
# has served API requests before. Ten times: an API request, then a WebSocket handshake, through
# nginx; prints the status lines counted, and how many upgrades nginx retried on a fresh connection.
#
#   apt-get install -y nginx-light
#   Benchmarks/proxy/nginx_keepalive.sh .build-bench/release/relay
set -euo pipefail
relay=${1:?usage: $0 path/to/relay}
relay_port=${RELAY_PORT:-8600}
proxy_port=${PROXY_PORT:-8601}
work=$(mktemp -d)
sed -e "s#@WORK@#$work#g" -e "s#@RELAY_PORT@#$relay_port#g" -e "s#@PROXY_PORT@#$proxy_port#g" \
    "$(dirname "$0")/nginx.conf.template" > "$work/nginx.conf"
API_KEY=k "$relay" --port "$relay_port" --data-dir "$work/data" > "$work/relay.log" 2>&1 &
relay_pid=$!
trap 'kill $relay_pid 2>/dev/null; nginx -c "$work/nginx.conf" -s stop 2>/dev/null; rm -rf "$work"' EXIT
nginx -c "$work/nginx.conf"
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$relay_port/api/rooms" && break; sleep 0.1; done
python3 "$(dirname "$0")/api_then_upgrade.py" "$proxy_port" 10
echo "upgrades nginx retried on a fresh connection: $(grep -c 'prematurely closed' "$work/error.log" || true)"
