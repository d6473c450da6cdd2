#!/usr/bin/env bash
# Interleaved A/B runs of the relay scenario: builds take turns, so a change in the machine's
# background load hits both alike, and each round starts one build later (A B C, B C A, …; with two
# builds A B, B A), so that none always runs first or later in a drifting machine. Each run goes through
# run-relay-bench.sh (server on CPU 1, bench on CPU 0, fresh data folder) under the exclusive
# benchmark lock. Each line: latency, the bench's send lag (how late it wrote its own sends; part
# of the latency), both sides' CPU, lost and repeated messages, the server's errors and rooms that
# failed to set up.
#
#   Benchmarks/relay/interleave.sh ROOMS PAIRS DIR_A [DIR_B ...]
#   (each DIR holds a `relay` and a `relay-bench` binary; extra relay-bench options in BENCH_ARGS)
#   A DIR of `old`, `go`, `go-raw` or `node` runs that server instead
#   (Benchmarks/reference/run-reference.sh), measured by the relay-bench in BENCH_DIR (default .build/release).
#   With BENCH_DIR set, its relay-bench measures every run, so that only the servers differ; without
#   it, each DIR's own relay-bench measures its relay.
#   Environment: PORT (8155), DURATION (each run's window, 10s), BENCH_ARGS, BENCH_DIR,
#   SERVER_FLAGS (extra relay flags, passed on to run-relay-bench.sh), and BENCH_LOCK (the file
#   every run holds, so that no two benchmarks overlap: /tmp/bench.lock).
#   A run that measured nothing (a server that did not start, a port taken, a refused option) gets
#   its line with empty fields, followed by the end of its output: the cause; a relay that died
#   during its run gets the end of its log. The script then exits 1 once all rounds have run.
set -euo pipefail

# The comment above is the usage; asked for, or without its three arguments, it is printed.
usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
case "${1:-}" in
-h | --help) usage; exit 0 ;;
esac
if (($# < 3)); then usage >&2; exit 64; fi
cd "$(dirname "$0")/../.."
rooms=$1 pairs=$2 unmeasured=0
shift 2
dirs=("$@")
for round in $(seq "$pairs"); do
    # Round r starts with build r (A B C, B C A, C A B, …): over a number of rounds that is a
    # multiple of the builds', each runs in every position equally often (two builds: A B, B A).
    order=()
    for ((i = 0; i < ${#dirs[@]}; i++)); do order+=("${dirs[(i + round - 1) % ${#dirs[@]}]}"); done
    for dir in "${order[@]}"; do
        case "$dir" in
        old | go | go-raw | node)
            run=(env BUILD="${BENCH_DIR:-.build/release}" bash Benchmarks/reference/run-reference.sh "$dir") ;;
        *) run=(env SKIP_BUILD=1 BUILD="$dir" ${BENCH_DIR:+BENCH_BUILD="$BENCH_DIR"} bash Benchmarks/run-relay-bench.sh) ;;
        esac
        # shellcheck disable=SC2086  # BENCH_ARGS is a list of options
        out=$(flock -x "${BENCH_LOCK:-/tmp/bench.lock}" env PORT="${PORT:-8155}" "${run[@]}" \
            relay --rooms "$rooms" --players 2 --hz 30 --duration ${DURATION:-10s} --quiet ${BENCH_ARGS:-} 2>&1) ||
            true # a run that measured nothing (exit 1) still gets its line
        latency=$(echo "$out" | awk '/^latency/ {print "p50", $4, "p99", $8, "p99.9", $10}')
        # "… µs per delivery, RSS … MB, waited N ms for a core": CPU share, µs, and the wait.
        server=$(echo "$out" | awk '/^server/ {print $5, $9, "µs", "waited", $17, "ms"}')
        bench=$(echo "$out" | awk '/^bench/ {print $5, $9, "µs", "waited", $17, "ms"}')
        lost=$(echo "$out" | awk '/^messages/ {print $10}')
        lag=$(echo "$out" | awk '/^send lag/ {print "p99", $5, "max", $7}')
        failed=$(echo "$out" | awk '/^setup/ {print $NF}')
        # Repeated or reordered deliveries ("N REPEATED or out of order"; a bench before session 44 counts none).
        repeated=$(echo "$out" | awk '/^messages/ {n = 0; if (match($0, /[0-9]+ REPEATED/)) n = substr($0, RSTART, RLENGTH - 9); print n}')
        # `error` messages the server sent after the joins (`rate_limited`, say): a cause of loss.
        errors=$(echo "$out" | awk '/^messages/ {if (match($0, /server errors [0-9]+/)) print substr($0, RSTART + 14, RLENGTH - 14)}')
        echo "$dir rooms=$rooms $latency lag $lag server ${server#(} bench ${bench#(} lost $lost repeated ${repeated:-?} errors ${errors:-?} failed ${failed:-?}"
        # The table's warnings (connections the server closed, sends short of the rate, deliveries
        # lost; reordered, misrouted, echoed, mislabelled or unreadable ones on the messages line) under the run's line: a room whose sockets
        # both closed sends nothing more, so it is not counted as lost.
        echo "$out" | awk '/^WARNING/ {$1 = ""; print "    WARNING" $0} /^messages/ && /OUT OF ORDER|MORE than|ECHOED|MISROUTED|LABELLED|UNREADABLE|OVER 60 s/ {print "    " $0}'
        # No latency line: nothing was measured, and the run's last lines say why. A relay that
        # died during the window measured something, but not that build's figures.
        if [[ -z "$latency" ]]; then
            echo "$out" | tail -n 5 | sed 's/^/    NOT MEASURED: /'
            unmeasured=$((unmeasured + 1))
        elif [[ "$out" == *"before the end; the end of its log:"* ]]; then
            echo "$out" | sed -n '/before the end; the end of its log:/,$p' | tail -n 6 | sed 's/^/    RELAY DIED: /'
            unmeasured=$((unmeasured + 1))
        fi
    done
done
# All rounds run, but a script must not take them for a result.
if ((unmeasured > 0)); then
    echo "$unmeasured runs measured nothing" >&2
    exit 1
fi
