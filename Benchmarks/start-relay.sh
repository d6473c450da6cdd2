# Sourced by the benchmark scripts: start_relay WORK_DIR starts $BUILD/relay pinned to CPU
# $SERVER_CPU on 127.0.0.1:$PORT (open-file limit raised as far as allowed), with its data in
# WORK_DIR/data, its output in WORK_DIR/relay.log and $SERVER_FLAGS added; sets `server` to its
# pid; on exit stops it (SIGTERM, waits) and removes WORK_DIR; if it had ended with a failure
# status meanwhile (a crash mid-run), it prints the end of its log to stderr and the script exits
# 1. Returns once it listens, and exits the script if it does not: a port already taken (another
# server) must not be measured by mistake.
# Waits for the port, not a log line, so that any LOG_LEVEL works.
start_relay() {
    local work=$1
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        echo "port $PORT is taken: another server would be measured" >&2
        rm -rf "$work"
        exit 1
    fi
    # shellcheck disable=SC2086  # SERVER_FLAGS is a list of flags
    bash -c "ulimit -n 65536 2>/dev/null || ulimit -n \$(ulimit -Hn); exec taskset -c ${SERVER_CPU:-1} $BUILD/relay \
        --port $PORT --data-dir $work/data ${SERVER_FLAGS:-}" > "$work/relay.log" 2>&1 &
    server=$!
    relay_work=$work relay_listened=""
    trap stop_relay EXIT
    local listening=""
    for _ in $(seq 100); do
        kill -0 "$server" 2>/dev/null || break
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then listening=yes; break; fi
        sleep 0.1
    done
    if [ -z "$listening" ] || ! kill -0 "$server" 2>/dev/null; then
        echo "relay did not start on port $PORT:" >&2
        cat "$work/relay.log" >&2
        exit 1
    fi
    relay_listened=yes
}

# The EXIT trap of start_relay: stops the relay and waits for it. A status other than a clean
# stop's (0, or 130/143 for a Ctrl-C or SIGTERM that reached it first) is a crash: its log shows why.
stop_relay() {
    local status=0
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || status=$?
    if [ -n "$relay_listened" ] && ((status != 0 && status != 130 && status != 143)); then
        echo "the relay (pid $server) ended with status $status before the end; the end of its log:" >&2
        tail -n 20 "$relay_work/relay.log" >&2 || true
        rm -rf "$relay_work"
        exit 1
    fi
    rm -rf "$relay_work"
}
