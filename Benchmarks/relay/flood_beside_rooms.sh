#!/usr/bin/env bash
# Other rooms' latency while one client floods heavy messages (heavy_flood.py): a relay on CPU 1,
# relay-bench with ROOMS rooms × 2 @ 30 Hz on CPU 0 (3 s of warm-up, then its 20 s window), and the
# flooder from the start for FLOOD_SECONDS (default 30; also on CPU 0, ~2 % of it), so that it
# floods the whole window (the bench sets its rooms up in a second or two first). Prints the
# bench's report and the server's CPU over the whole run (clock ticks, 1/100 s). Until session 67
# the flood ran 14 s from the bench's third second: some 70 % of the window, whose figures then
# mixed in unflooded seconds.
#   Benchmarks/relay/flood_beside_rooms.sh BUILD_DIR ROOMS [action|enemy|pad|tracked|dense|digits|none]
#   (BUILD_DIR holds `relay` and `relay-bench`; PORT, default 8142)
# With CONNECTIONS=N the flood comes from N clients of one address instead (many_flood.py, KIND
# state or pad; EACH_ITS_OWN_ADDRESS=1 for N addresses), niced so that the bench beside it on CPU 0
# keeps the core it needs. With LARGE_PROBE=1, large_probe.py also runs beside them as long: how
# long a calm client's occasional 12 KB message takes to reach its room-mate.
set -euo pipefail
dir=${1:?usage: flood_beside_rooms.sh BUILD_DIR ROOMS [kind]} rooms=${2:?usage: flood_beside_rooms.sh BUILD_DIR ROOMS [kind]} kind=${3:-action} port=${PORT:-8142}
here=$(cd "$(dirname "$0")" && pwd)
BUILD=$dir PORT=$port SERVER_CPU=1
# shellcheck source=Benchmarks/start-relay.sh
source "$here/../start-relay.sh"
start_relay "$(mktemp -d)"  # sets `server`; stops it and removes the folder on exit
ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
before=$(ticks)
seconds=${FLOOD_SECONDS:-30}
flooder= probe=
# A bench that fails (set -e) must not leave its flooders running: stop them, then the relay.
stop_helpers() {
    local pid
    for pid in $flooder $probe; do kill -TERM "$pid" 2>/dev/null || true; done
    stop_relay
}
trap stop_helpers EXIT
if [ "$kind" != none ]; then
    if [ -n "${CONNECTIONS:-}" ]; then
        taskset -c 0 nice -n 19 python3 "$here/many_flood.py" "$port" "$seconds" "$CONNECTIONS" "$kind" &
    else
        taskset -c 0 python3 "$here/heavy_flood.py" "$port" "$seconds" "$kind" &
    fi
    flooder=$!
fi
if [ "${LARGE_PROBE:-}" = 1 ]; then
    taskset -c 0 python3 "$here/large_probe.py" "$port" "$seconds" ${LARGE_PROBE_ARGS:-} &
    probe=$!
fi
taskset -c 0 "$dir/relay-bench" relay "ws://127.0.0.1:$port" --rooms "$rooms" --players 2 --hz 30 --warmup 3s --duration 20s --quiet
if [ -n "$flooder" ]; then wait "$flooder"; fi
if [ -n "$probe" ]; then wait "$probe"; fi
flooder= probe=
echo "server CPU ticks over the run: $(( $(ticks) - before ))"
