#!/usr/bin/env bash
# One relay-bench scenario against a fresh relay (see BENCHMARKS.md).
#
#   bash Benchmarks/run-relay-bench.sh relay --rooms 100 --duration 10s
#   bash Benchmarks/run-relay-bench.sh step --start-rooms 100 --max-rooms 3200 --step-duration 5s
#   SERVER_FLAGS="--outbound-queue-frames 64" bash Benchmarks/run-relay-bench.sh slow-consumer
#
# Starts `relay` pinned to CPU 1 on 127.0.0.1:$PORT with a new temp data dir (open-file limit
# raised as far as allowed), runs `relay-bench <scenario> ws://127.0.0.1:$PORT <args> --server-pid`
# pinned to CPU 0, then stops the server (SIGTERM, waits). Before the run it prints the load
# average and the busiest processes, so a figure taken beside a compiler can be told apart.
#
# Environment: PORT (8134), SERVER_CPU (1), BENCH_CPU (0), SERVER_FLAGS (extra relay flags),
# BUILD (release build dir, default .build/release), BENCH_BUILD (where relay-bench is taken from,
# default BUILD), SKIP_BUILD=1 to reuse the binaries.
# Scenarios and their options: relay-bench --help, relay-bench help <scenario>.
set -euo pipefail

# The comment above is the usage; asked for, or without a scenario, it is printed and nothing runs.
usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
case "${1:-}" in
-h | --help) usage; exit 0 ;;
"") usage >&2; exit 64 ;;
esac

cd "$(dirname "$0")/.."
PORT=${PORT:-8134}
SERVER_CPU=${SERVER_CPU:-1}
BENCH_CPU=${BENCH_CPU:-0}
BUILD=${BUILD:-.build/release}
scenario=$1
shift

if [[ "${SKIP_BUILD:-}" != 1 ]]; then
    # Into BUILD's own scratch folder (`.build-bench/release` → `.build-bench`), so that the binaries
    # run are the ones just built.
    scratch=$(dirname "$BUILD")
    swift build -c release --scratch-path "$scratch" --product relay
    swift build -c release --scratch-path "$scratch" --product relay-bench
fi

export API_KEY=${API_KEY:-k}
data=$(mktemp -d "${TMPDIR:-/tmp}/relay-bench-data.XXXXXX")
trap 'rm -rf "$data"' EXIT  # until start_relay's trap replaces it
echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg); busiest:" \
    "$(ps -eo pcpu,comm --sort=-pcpu --no-headers | head -3 | tr -s ' ' | paste -sd ',')" >&2

# shellcheck source=Benchmarks/start-relay.sh
source Benchmarks/start-relay.sh
start_relay "$data"

taskset -c "$BENCH_CPU" "${BENCH_BUILD:-$BUILD}/relay-bench" "$scenario" "ws://127.0.0.1:$PORT" "$@" \
    --server-pid "$server"
