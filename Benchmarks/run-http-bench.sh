#!/usr/bin/env bash
# HTTP benchmarks of the relay with wrk (see BENCHMARKS.md).
#
#   bash Benchmarks/run-http-bench.sh            # the default runs below, 15 s each
#   DURATION=5s RUNS="post-default" bash Benchmarks/run-http-bench.sh
#
# Builds the release `relay` into .build-bench, then for each run starts a fresh server pinned to
# CPU 1 on 127.0.0.1:$PORT with a new temp data dir, loads it with wrk pinned to CPU 0, and stops
# the server (SIGTERM, then waits for it). Loopback only; every wrk run is bounded by DURATION.
#
# Runs (RUNS, space-separated; default: all but the four --sync runs and flood-pacer-idle):
#   post-default   POST /api/scores, default batching (--batch-window-ms 0 --batch-size 256)
#   post-window2   POST /api/scores, --batch-window-ms 2
#   post-batch64   POST /api/scores, --batch-size 64
#   post-batch1024 POST /api/scores, --batch-size 1024
#   post-c256      POST /api/scores, default batching, 256 connections
#   post-sync-full / post-sync-normal      POST /api/scores, --sync full (the default since
#                  session 76) / --sync normal, named so that an older build runs the same
#   post-c1-sync-full / post-c1-sync-normal  the same with one connection: one write at a time
#   post-1m        POST /api/scores, default batching, into a copy of the 1M-row database (see below)
#   get-leaderboard GET /api/scores/leaderboard?limit=10[&game_mode=…] on a copy of the 1M-row database
#   flood-unpaced  get-leaderboard from 127.0.0.1, counted as a client (--count-loopback), while
#                  Benchmarks/http/other_address_probe.py times GETs from 127.0.0.3; no request budget
#   flood-paced    the same with the default budget (--http-requests-per-second-per-address 100)
#   flood-pacer-idle the same with a budget never reached (1,000,000 a second): what the pacer costs
#
# The 1M-row database is the one PersistenceBenchmarks builds (and keeps) in
# $TMPDIR/persistence-bench-1m-v2/game.db: run those first. Without it, post-1m and get-leaderboard
# start from an empty database like the others.
#
# Environment: PORT (8099), DURATION (15s; in seconds, which the flood runs count in), CONNECTIONS (64), SERVER_CPU (1), WRK_CPU (0),
# OUT (directory for the logs, default a new temp dir), SKIP_BUILD=1 to reuse the binary,
# RELAY (the binary, default the one built; another build to compare, with SKIP_BUILD=1).
# It takes no arguments: everything is set in the environment.
set -euo pipefail

# The comment above is the usage: asked for, or given arguments, it is printed and nothing runs
# (a stray `--help` would otherwise start minutes of load).
usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
case "${1:-}" in
-h | --help) usage; exit 0 ;;
"") ;;
*) usage >&2; exit 64 ;;
esac

cd "$(dirname "$0")/.."
PORT=${PORT:-8099}
DURATION=${DURATION:-15s}
CONNECTIONS=${CONNECTIONS:-64}
SERVER_CPU=${SERVER_CPU:-1}
WRK_CPU=${WRK_CPU:-0}
RUNS=${RUNS:-"post-default post-window2 post-batch64 post-batch1024 post-c256 post-1m get-leaderboard flood-unpaced flood-paced"}
export API_KEY=k

command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
command -v taskset >/dev/null || { echo "taskset is missing: apt-get install -y util-linux" >&2; exit 1; }
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/relay-http-bench.XXXXXX")}
mkdir -p "$OUT"

if [[ "${SKIP_BUILD:-}" != 1 ]]; then
    # ENABLE_BENCHMARKS=1 only keeps .build-bench's package graph the same as the storage benchmarks'.
    ENABLE_BENCHMARKS=1 swift build -c release --scratch-path .build-bench --product relay
fi
RELAY=${RELAY:-.build-bench/release/relay}

SERVER_PID=
DATA_DIR=
stop_server() {
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID"
        wait "$SERVER_PID" || true
    fi
    SERVER_PID=
}
remove_data() {
    if [[ -n "$DATA_DIR" ]]; then rm -rf "$DATA_DIR"; fi
    DATA_DIR=
}
trap 'stop_server; remove_data' EXIT

# start_server NAME [relay flags…]
start_server() {
    local name=$1
    shift
    DATA_DIR=$(mktemp -d "${TMPDIR:-/tmp}/relay-http-bench-data.XXXXXX")
    if [[ "$name" == get-* || "$name" == *-1m ]] && [[ -f "${TMPDIR:-/tmp}/persistence-bench-1m-v2/game.db" ]]; then
        cp "${TMPDIR:-/tmp}/persistence-bench-1m-v2/game.db" "$DATA_DIR/game.db"
        if [[ -f "${TMPDIR:-/tmp}/persistence-bench-1m-v2/game.db-wal" ]]; then
            cp "${TMPDIR:-/tmp}/persistence-bench-1m-v2/game.db-wal" "$DATA_DIR/game.db-wal"
        fi
    fi
    LOG_LEVEL=warning taskset -c "$SERVER_CPU" "$RELAY" --port "$PORT" --data-dir "$DATA_DIR" "$@" \
        >"$OUT/$name.server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 200); do
        if curl -fsS "http://127.0.0.1:$PORT/" >/dev/null 2>&1; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$OUT/$name.server.log" >&2; exit 1; }
        sleep 0.1
    done
    echo "server did not start" >&2
    exit 1
}

# run NAME CONNECTIONS SCRIPT PATH [relay flags…]
run() {
    local name=$1 connections=$2 script=$3 path=$4
    shift 4
    start_server "$name" "$@"
    echo "=== $name: relay $* ; wrk -t1 -c$connections -d$DURATION $path" | tee "$OUT/$name.wrk.log"
    taskset -c "$WRK_CPU" wrk -t1 -c"$connections" -d"$DURATION" --latency -s "$script" \
        "http://127.0.0.1:$PORT$path" | tee -a "$OUT/$name.wrk.log"
    stop_server  # graceful: commits what is pending
    if [[ "$script" == *post_score.lua ]] && command -v sqlite3 >/dev/null; then
        # Every 200 answer is a committed row, so this is ≥ the 200 count (requests still in flight
        # when wrk stopped may also have committed).
        echo "rows in database after stop: $(sqlite3 "$DATA_DIR/game.db" 'SELECT COUNT(*) FROM scores')" \
            | tee -a "$OUT/$name.wrk.log"
    fi
    remove_data
}

# flood NAME RATE: the leaderboard flooded from one counted address, and the latency of another's
# GETs meanwhile; also the server's CPU time over the run.
flood() {
    local name=$1 rate=$2
    start_server "$name" --count-loopback --forwarded-allow-ips '' --http-requests-per-second-per-address "$rate"
    local seconds=${DURATION%s}
    echo "=== $name: relay --http-requests-per-second-per-address $rate ; wrk -t1 -c$CONNECTIONS -d$DURATION" \
        | tee "$OUT/$name.wrk.log"
    local ticks_before
    ticks_before=$(awk '{print $14 + $15}' "/proc/$SERVER_PID/stat")
    PORT=$PORT DURATION=$((seconds - 3)) taskset -c "$WRK_CPU" python3 Benchmarks/http/other_address_probe.py \
        >"$OUT/$name.probe.log" 2>&1 &
    local probe=$!
    taskset -c "$WRK_CPU" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency -s Benchmarks/wrk/get_leaderboard.lua \
        "http://127.0.0.1:$PORT/api/scores/leaderboard" | tee -a "$OUT/$name.wrk.log"
    wait "$probe" || true
    local ticks_after
    ticks_after=$(awk '{print $14 + $15}' "/proc/$SERVER_PID/stat")
    tee -a "$OUT/$name.wrk.log" <"$OUT/$name.probe.log"
    echo "server CPU: $(((ticks_after - ticks_before) * 100 / $(getconf CLK_TCK) / seconds)) % of a core" \
        | tee -a "$OUT/$name.wrk.log"
    stop_server
    remove_data
}

for name in $RUNS; do
    case "$name" in
        post-default) run "$name" "$CONNECTIONS" Benchmarks/wrk/post_score.lua /api/scores ;;
        post-window2) run "$name" "$CONNECTIONS" Benchmarks/wrk/post_score.lua /api/scores --batch-window-ms 2 ;;
        post-batch64) run "$name" "$CONNECTIONS" Benchmarks/wrk/post_score.lua /api/scores --batch-size 64 ;;
        post-batch1024) run "$name" "$CONNECTIONS" Benchmarks/wrk/post_score.lua /api/scores --batch-size 1024 ;;
        post-c256) run "$name" 256 Benchmarks/wrk/post_score.lua /api/scores ;;
        post-sync-full) run "$name" "$CONNECTIONS" Benchmarks/wrk/post_score.lua /api/scores --sync full ;;
        post-sync-normal) run "$name" "$CONNECTIONS" Benchmarks/wrk/post_score.lua /api/scores --sync normal ;;
        post-c1-sync-full) run "$name" 1 Benchmarks/wrk/post_score.lua /api/scores --sync full ;;
        post-c1-sync-normal) run "$name" 1 Benchmarks/wrk/post_score.lua /api/scores --sync normal ;;
        post-1m) run "$name" "$CONNECTIONS" Benchmarks/wrk/post_score.lua /api/scores ;;
        get-leaderboard) run "$name" "$CONNECTIONS" Benchmarks/wrk/get_leaderboard.lua /api/scores/leaderboard ;;
        flood-unpaced) flood "$name" 0 ;;
        flood-paced) flood "$name" 100 ;;
        flood-pacer-idle) flood "$name" 1000000 ;;
        *) echo "unknown run $name" >&2; exit 2 ;;
    esac
done
echo "logs in $OUT"
