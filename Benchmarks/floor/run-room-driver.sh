#!/usr/bin/env bash
# The room relay loaded by the lightest client (room-driver.c): relay on CPU 1, the C driver on
# CPU 0, as run-relay-bench.sh pins them. Usage: run-room-driver.sh [ROOMS] [HZ] [SECONDS]
# Environment: PORT (8135), SERVER_CPU (1), BENCH_CPU (0), BUILD (release build dir, default .build/release; not rebuilt here),
# SERVER_FLAGS (extra relay flags). The driver needs a C compiler (cc).
set -euo pipefail
cd "$(dirname "$0")/../.."
rooms=${1:-500} hz=${2:-30} seconds=${3:-20}
PORT=${PORT:-8135}
BUILD=${BUILD:-.build/release}
work=$(mktemp -d "${TMPDIR:-/tmp}/room-driver.XXXXXX")
trap 'rm -rf "$work"' EXIT  # start_relay's trap replaces this one
cc -O2 -Wall -o "$work/room-driver" Benchmarks/floor/room-driver.c -lm
# shellcheck source=Benchmarks/start-relay.sh
source Benchmarks/start-relay.sh
start_relay "$work"
bash -c "ulimit -n 65536 2>/dev/null || ulimit -n \$(ulimit -Hn); exec taskset -c ${BENCH_CPU:-0} $work/room-driver $PORT $rooms $hz $seconds $server"
