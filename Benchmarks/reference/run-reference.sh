#!/usr/bin/env bash
# One relay-bench scenario against another server that speaks the room protocol, pinned as
# run-relay-bench.sh pins this server (that server on CPU 1, the bench on CPU 0), for the
# comparisons in BENCHMARKS.md ("Session 27", "Session 28"):
#   old     the game's own FastAPI backend, run as its Dockerfile runs it (`uvicorn main:app`, one
#           process); not part of this repository: OLD_BACKEND names its `backend/` folder, with
#           its requirements in OLD_BACKEND/venv. It appends every `player_state` to
#           game_state.log there; the file is removed before each run, so runs do not differ by its size.
#   go      go_relay/main.go, Go on gorilla/websocket (the "hand-written Go server");
#   go-raw  the same with -raw: `player_state` relayed without parsing or rounding its state;
#   node    node_relay.cjs, Node.js on `ws` (the library under Socket.IO and Colyseus).
#
#   apt-get install -y golang-go golang-github-gorilla-websocket-dev node-ws   # once, from Debian
#   python3 -m venv "$OLD_BACKEND/venv" && "$OLD_BACKEND/venv/bin/pip" install -r "$OLD_BACKEND/requirements.txt"
#   bash Benchmarks/reference/run-reference.sh go relay --rooms 500 --players 2 --hz 30 --duration 20s --quiet
#   OLD_BACKEND=/path/to/backend bash Benchmarks/reference/run-reference.sh old relay --rooms 40 --duration 20s
#
# Environment: PORT (8002), SERVER_CPU (1), BENCH_CPU (0), BUILD (the folder of relay-bench,
# default .build/release), GO_RELAY (a built go-relay; by default built into a temp folder),
# OLD_BACKEND (for `old`), API_KEY (for `old`: k).
set -euo pipefail

# The comment above is the usage; asked for, or without a server and a scenario, it is printed.
usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
case "${1:-}" in
-h | --help) usage; exit 0 ;;
old | go | go-raw | node) ;;
*) usage >&2; exit 64 ;;
esac
if (($# < 2)); then usage >&2; exit 64; fi

cd "$(dirname "$0")/../.."
repo=$PWD
PORT=${PORT:-8002}
BUILD=${BUILD:-.build/release}
kind=$1
scenario=$2
shift 2
bench=$(realpath "$BUILD/relay-bench")

# A server already on the port would answer the checks below for the one started here, which then
# fails to bind and exits, and the bench would measure the other under this one's name.
if (exec 3<> "/dev/tcp/127.0.0.1/$PORT") 2> /dev/null; then
    echo "port $PORT is taken by another server: stop it, or set PORT" >&2
    exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/reference-relay.XXXXXX")
# shellcheck disable=SC2064  # expand now
trap "rm -rf '$work'" EXIT
case "$kind" in
old)
    : "${OLD_BACKEND:?set OLD_BACKEND to the folder of the old backend (main.py, venv/)}"
    cd "$OLD_BACKEND"
    rm -f game_state.log
    API_KEY=${API_KEY:-k} taskset -c "${SERVER_CPU:-1}" venv/bin/uvicorn main:app --host 127.0.0.1 --port "$PORT" \
        > "$work/log" 2>&1 &
    cd "$repo"
    ;;
go | go-raw)
    if [[ -z "${GO_RELAY:-}" ]]; then
        # Debian's gorilla is a GOPATH source tree, so the relay builds without modules or a network.
        GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$work/cache" \
            go build -o "$work/go-relay" Benchmarks/reference/go_relay/main.go
        GO_RELAY=$work/go-relay
    fi
    raw=false
    [[ $kind == go-raw ]] && raw=true
    taskset -c "${SERVER_CPU:-1}" "$GO_RELAY" -addr "127.0.0.1:$PORT" -raw="$raw" > "$work/log" 2>&1 &
    ;;
node)
    NODE_PATH=/usr/share/nodejs taskset -c "${SERVER_CPU:-1}" node Benchmarks/reference/node_relay.cjs "$PORT" \
        > "$work/log" 2>&1 &
    ;;
*)  # refused at the top, with the usage
    exit 64
    ;;
esac
server=$!
# shellcheck disable=SC2064  # expand now
trap "kill -TERM $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf '$work'" EXIT
for _ in $(seq 100); do
    curl -fs -o /dev/null "http://127.0.0.1:$PORT/" && break
    sleep 0.1
done
if ! kill -0 "$server" 2>/dev/null || ! curl -fs -o /dev/null "http://127.0.0.1:$PORT/"; then
    echo "the $kind server did not start on port $PORT:" >&2
    cat "$work/log" >&2
    exit 1
fi
echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg); busiest:" \
    "$(ps -eo pcpu,comm --sort=-pcpu --no-headers | head -3 | tr -s ' ' | paste -sd ',')" >&2
taskset -c "${BENCH_CPU:-0}" "$bench" "$scenario" "ws://127.0.0.1:$PORT" "$@" --server-pid "$server"
