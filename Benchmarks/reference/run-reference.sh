#!/usr/bin/env bash
# One relay-bench scenario against a reference relay written the plain way in another language,
# pinned as run-relay-bench.sh pins this server (the relay on CPU 1, the bench on CPU 0), for the
# comparison in BENCHMARKS.md, "Session 28":
#   go    go_relay/main.go, Go on gorilla/websocket (the "hand-written Go server");
#   go-raw  the same with -raw: `player_state` relayed without parsing or rounding its state;
#   node  node_relay.cjs, Node.js on `ws` (the library under Socket.IO and Colyseus).
#
#   apt-get install -y golang-go golang-github-gorilla-websocket-dev node-ws   # once, from Debian
#   bash Benchmarks/reference/run-reference.sh go relay --rooms 500 --players 2 --hz 30 --duration 20s --quiet
#
# Environment: PORT (8002), SERVER_CPU (1), BENCH_CPU (0), BUILD (the folder of relay-bench,
# default .build/release), GO_RELAY (a built go-relay; by default built into a temp folder).
set -euo pipefail

cd "$(dirname "$0")/../.."
PORT=${PORT:-8002}
BUILD=${BUILD:-.build/release}
kind=${1:?usage: run-reference.sh go|go-raw|node <scenario> [relay-bench options]}
scenario=${2:?usage: run-reference.sh go|go-raw|node <scenario> [relay-bench options]}
shift 2
bench=$(realpath "$BUILD/relay-bench")

work=$(mktemp -d "${TMPDIR:-/tmp}/reference-relay.XXXXXX")
# shellcheck disable=SC2064  # expand now
trap "rm -rf '$work'" EXIT
case "$kind" in
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
*)
    echo "unknown reference relay: $kind (go, go-raw or node)" >&2
    exit 2
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
    echo "the $kind relay did not start on port $PORT:" >&2
    cat "$work/log" >&2
    exit 1
fi
echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg); busiest:" \
    "$(ps -eo pcpu,comm --sort=-pcpu --no-headers | head -3 | tr -s ' ' | paste -sd ',')" >&2
taskset -c "${BENCH_CPU:-0}" "$bench" "$scenario" "ws://127.0.0.1:$PORT" "$@" --server-pid "$server"
