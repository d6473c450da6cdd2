#!/usr/bin/env bash
# The loopback floor (see relay-floor.c): builds it, runs the relay on CPU 1 and the driver on
# CPU 0, as the relay benchmarks are run. Usage: run-floor.sh [PAIRS] [HZ] [SECONDS] [BYTES] [GRID_MICROS]
# RELAY=path runs another relay taking the same arguments (`RELAY relay PORT`), e.g. NIO's (nio-floor).
# PORT (8600) is the relay's.
set -euo pipefail
pairs=${1:-500} hz=${2:-30} seconds=${3:-15} bytes=${4:-198} grid=${5:-0} port=${PORT:-8600}
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is taken: another server would be measured" >&2
    exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cc -O2 -Wall -o "$work/relay-floor" "$(dirname "$0")/relay-floor.c" -lm
taskset -c 1 "${RELAY:-$work/relay-floor}" relay "$port" &
relay=$!
# Time to listen (no probe connection: the relays pair up connections in the order they come).
sleep 1
taskset -c 0 "$work/relay-floor" drive "$port" "$pairs" "$hz" "$seconds" "$bytes" "$grid"
wait "$relay"
