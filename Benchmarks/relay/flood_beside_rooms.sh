#!/usr/bin/env bash
# Other rooms' latency while one client floods heavy messages (heavy_flood.py): a relay on CPU 1,
# relay-bench with ROOMS rooms × 2 @ 30 Hz for 20 s on CPU 0, and from its third second, the
# flooder for 14 s (also on CPU 0; it uses ~2 % of it). Prints the bench's report and the
# server's CPU over the whole run (clock ticks, 1/100 s).
#   Benchmarks/relay/flood_beside_rooms.sh BUILD_DIR ROOMS [action|enemy|pad|tracked|dense|digits|none]
#   (BUILD_DIR holds `relay` and `relay-bench`; PORT, default 8142)
# With CONNECTIONS=N the flood comes from N clients of one address instead (many_flood.py, KIND
# state or pad; EACH_ITS_OWN_ADDRESS=1 for N addresses), niced so that the bench beside it on CPU 0
# keeps the core it needs. With LARGE_PROBE=1, large_probe.py also runs beside them from the third
# second: how long a calm client's occasional 12 KB message takes to reach its room-mate.
set -euo pipefail
dir=${1:?usage: flood_beside_rooms.sh BUILD_DIR ROOMS [kind]} rooms=${2:?usage: flood_beside_rooms.sh BUILD_DIR ROOMS [kind]} kind=${3:-action} port=${PORT:-8142}
here=$(cd "$(dirname "$0")" && pwd)
BUILD=$dir PORT=$port SERVER_CPU=1
# shellcheck source=Benchmarks/start-relay.sh
source "$here/../start-relay.sh"
start_relay "$(mktemp -d)"  # sets `server`; stops it and removes the folder on exit
ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
before=$(ticks)
flooder=
if [ "$kind" != none ]; then
    if [ -n "${CONNECTIONS:-}" ]; then
        (sleep 3; taskset -c 0 nice -n 19 python3 "$here/many_flood.py" "$port" 14 "$CONNECTIONS" "$kind") &
    else
        (sleep 3; taskset -c 0 python3 "$here/heavy_flood.py" "$port" 14 "$kind") &
    fi
    flooder=$!
fi
probe=
if [ "${LARGE_PROBE:-}" = 1 ]; then
    (sleep 3; taskset -c 0 python3 "$here/large_probe.py" "$port" 14 ${LARGE_PROBE_ARGS:-}) &
    probe=$!
fi
taskset -c 0 "$dir/relay-bench" relay "ws://127.0.0.1:$port" --rooms "$rooms" --players 2 --hz 30 --duration 20s --quiet
if [ -n "$flooder" ]; then wait "$flooder"; fi
if [ -n "$probe" ]; then wait "$probe"; fi
echo "server CPU ticks over the run: $(( $(ticks) - before ))"
