#!/usr/bin/env bash
# One relay-bench run against a fresh relay, plus figures over a steady window (from 3 s after
# all connections are up to 2 s before the end): server CPU per expected delivery (two-player
# rooms: rooms × 2 × hz per second; only meaningful while the server is below 100 % of its core)
# split into user and kernel time, and with MALLOC_PROBE=1 the server's malloc/realloc/posix_memalign calls per delivery counted
# by perf uprobes. Server on CPU 1, bench on CPU 0, as in BENCHMARKS.md.
#
#   Benchmarks/relay/steady-window.sh RELAY_DIR BENCH_DIR ROOMS HZ SECONDS
#   (RELAY_DIR holds `relay`, BENCH_DIR `relay-bench`; SERVER_ENV="VAR=value ..." is passed to the server)
set -euo pipefail
relay_dir=$1 bench_dir=$2 rooms=$3 hz=$4 seconds=$5
if [ "$seconds" -le 5 ]; then
    echo "SECONDS must be over 5: the window runs from 3 s after set-up to 2 s before the end" >&2
    exit 1
fi
port=${PORT:-8124}
data=$(mktemp -d)
out=$(mktemp)
if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "port $port is taken: another server would be measured" >&2
    exit 1
fi
env ${SERVER_ENV:-} API_KEY=k LOG_LEVEL=warning taskset -c 1 "$relay_dir/relay" --port "$port" --data-dir "$data" >/dev/null 2>&1 &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null; rm -rf "$data" "$out"' EXIT
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
# The server's user and kernel CPU time so far, in clock ticks (`getconf CLK_TCK` a second).
cpu_ticks() { awk '{print $14, $15}' "/proc/$server/stat"; }
ticks_per_second=$(getconf CLK_TCK)
# Its open descriptors before any client: the rooms are set up once there are rooms × 2 more.
open_descriptors() { ls "/proc/$server/fd" 2>/dev/null | wc -l; }
sleep 1  # the port probe's connection closed on the server's side too
baseline=$(open_descriptors)
taskset -c 0 "$bench_dir/relay-bench" "ws://127.0.0.1:$port" --rooms "$rooms" --players 2 --hz "$hz" \
    --duration "${seconds}s" --server-pid "$server" --quiet >"$out" 2>/dev/null &
bench=$!
deadline=$((SECONDS + 120))
while [ "$(open_descriptors)" -lt $((baseline + rooms * 2)) ]; do
    if ! kill -0 "$server" 2>/dev/null || ! kill -0 "$bench" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
        echo "the rooms were not all set up (server or bench ended, or 120 s passed)" >&2
        cat "$out" >&2
        exit 1
    fi
    sleep 0.2
done
sleep 3
window=$((seconds - 5))
if [ -n "${MALLOC_PROBE:-}" ]; then
    libc=$(ldd "$relay_dir/relay" | awk '/libc\.so\.6/ {print $3}')  # the one the server loads, on any architecture
    perf probe -q -x "$libc" malloc 2>/dev/null || true
    perf probe -q -x "$libc" realloc 2>/dev/null || true
    perf probe -q -x "$libc" posix_memalign 2>/dev/null || true
    before=$(cpu_ticks)
    perf stat -x, -e probe_libc:malloc,probe_libc:realloc,probe_libc:posix_memalign -p "$server" -o "$out.stat" -- sleep "$window"
    after=$(cpu_ticks)
    allocations=$(awk -F, '/probe_libc/ {sum += $1} END {print sum}' "$out.stat")
else
    before=$(cpu_ticks); sleep "$window"; after=$(cpu_ticks); allocations=""
fi
wait $bench || true  # a bench that measured nothing exits 1: its table still says why
grep -v '^relay-bench' "$out"
awk -v before="$before" -v after="$after" -v w="$window" -v r="$rooms" -v hz="$hz" -v a="$allocations" \
    -v tck="$ticks_per_second" 'BEGIN {
    split(before, b, " "); split(after, e, " ")
    user = e[1] - b[1]; kernel = e[2] - b[2]; cpu = user + kernel
    deliveries = r * 2 * hz * w
    perDelivery = 1e6 / tck / deliveries
    printf "window %ds: server %.0f%% of its core, %.1f µs CPU per delivery (user %.1f, kernel %.1f)", w, cpu * 100 / tck / w,
        cpu * perDelivery, user * perDelivery, kernel * perDelivery
    if (a != "") printf ", %.1f allocations per delivery", a / deliveries
    printf "\n" }'
