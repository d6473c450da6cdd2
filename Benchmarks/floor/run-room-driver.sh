#!/usr/bin/env bash
# The room relay loaded by the lightest client (room-driver.c): relay on CPU 1, the C driver on
# CPU 0, as run-relay-bench.sh pins them. Usage: run-room-driver.sh [ROOMS] [HZ] [SECONDS]
# Environment: PORT (8135), BUILD (release build dir, default .build/release; not rebuilt here),
# SERVER_FLAGS (extra relay flags).
set -euo pipefail
cd "$(dirname "$0")/../.."
rooms=${1:-500} hz=${2:-30} seconds=${3:-20}
PORT=${PORT:-8135}
BUILD=${BUILD:-.build/release}
work=$(mktemp -d "${TMPDIR:-/tmp}/room-driver.XXXXXX")
cc -O2 -Wall -o "$work/room-driver" Benchmarks/floor/room-driver.c -lm
# shellcheck disable=SC2086  # SERVER_FLAGS is a list of flags
bash -c "ulimit -n 65536 2>/dev/null || ulimit -n \$(ulimit -Hn); exec taskset -c 1 $BUILD/relay \
    --port $PORT --data-dir $work/data ${SERVER_FLAGS:-}" > "$work/relay.log" 2>&1 &
server=$!
trap 'kill -TERM $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do
    grep -q "listening on" "$work/relay.log" 2>/dev/null && break
    sleep 0.1
done
if ! kill -0 "$server" 2>/dev/null || ! grep -q "listening on" "$work/relay.log"; then
    echo "relay did not start on port $PORT:" >&2
    cat "$work/relay.log" >&2
    exit 1
fi
bash -c "ulimit -n 65536 2>/dev/null || ulimit -n \$(ulimit -Hn); exec taskset -c 0 $work/room-driver $PORT $rooms $hz $seconds $server"
