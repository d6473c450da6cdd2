#!/usr/bin/env bash
# One relay-bench scenario against the game's own FastAPI backend, run as its Dockerfile runs it
# (`uvicorn main:app`, one process), for comparison with this server (see BENCHMARKS.md,
# "Session 27"). The backend is not part of this repository: point OLD_BACKEND at its `backend/`
# folder, with its requirements installed in OLD_BACKEND/venv:
#
#   python3 -m venv "$OLD_BACKEND/venv" && "$OLD_BACKEND/venv/bin/pip" install -r "$OLD_BACKEND/requirements.txt"
#   OLD_BACKEND=/path/to/backend bash Benchmarks/reference/run-old-backend.sh relay --rooms 40 --hz 30 --duration 20s --quiet
#
# The backend runs pinned to CPU 1 on 127.0.0.1:$PORT (8001), the bench (BUILD/relay-bench,
# default .build/release) pinned to CPU 0, as run-relay-bench.sh does for this server. The
# backend appends every `player_state` to game_state.log in its folder; the file is removed
# before each run, so runs do not differ by the log's size.
set -euo pipefail

cd "$(dirname "$0")/../.."
: "${OLD_BACKEND:?set OLD_BACKEND to the folder of the old backend (main.py, venv/)}"
PORT=${PORT:-8001}
BUILD=${BUILD:-.build/release}
scenario=${1:?usage: run-old-backend.sh <scenario> [relay-bench options]}
shift
bench=$(realpath "$BUILD/relay-bench")

cd "$OLD_BACKEND"
rm -f game_state.log
log=$(mktemp "${TMPDIR:-/tmp}/old-backend.XXXXXX.log")
API_KEY=${API_KEY:-k} taskset -c "${SERVER_CPU:-1}" venv/bin/uvicorn main:app --host 127.0.0.1 --port "$PORT" \
    > "$log" 2>&1 &
server=$!
# shellcheck disable=SC2064  # expand now
trap "kill -TERM $server 2>/dev/null || true; wait $server 2>/dev/null || true" EXIT
for _ in $(seq 100); do
    curl -fs -o /dev/null "http://127.0.0.1:$PORT/" && break
    sleep 0.1
done
if ! kill -0 "$server" 2>/dev/null || ! curl -fs -o /dev/null "http://127.0.0.1:$PORT/"; then
    echo "the old backend did not start on port $PORT:" >&2
    cat "$log" >&2
    exit 1
fi
echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg); uvicorn log: $log" >&2
taskset -c "${BENCH_CPU:-0}" "$bench" "$scenario" "ws://127.0.0.1:$PORT" "$@" --server-pid "$server"
