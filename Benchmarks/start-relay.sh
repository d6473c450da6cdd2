# Sourced by the benchmark scripts: start_relay WORK_DIR starts $BUILD/relay pinned to CPU
# $SERVER_CPU on 127.0.0.1:$PORT (open-file limit raised as far as allowed), with its data in
# WORK_DIR/data, its output in WORK_DIR/relay.log and $SERVER_FLAGS added; sets `server` to its
# pid; on exit stops it (SIGTERM, waits) and removes WORK_DIR. Returns once it listens, and exits
# the script if it does not: a port already taken (another server) must not be measured by mistake.
# Waits for the port, not a log line, so that any LOG_LEVEL works.
start_relay() {
    local work=$1
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        echo "port $PORT is taken: another server would be measured" >&2
        exit 1
    fi
    # shellcheck disable=SC2086  # SERVER_FLAGS is a list of flags
    bash -c "ulimit -n 65536 2>/dev/null || ulimit -n \$(ulimit -Hn); exec taskset -c ${SERVER_CPU:-1} $BUILD/relay \
        --port $PORT --data-dir $work/data ${SERVER_FLAGS:-}" > "$work/relay.log" 2>&1 &
    server=$!
    # shellcheck disable=SC2064  # expand now: the trap runs after `work` is gone
    trap "kill -TERM $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf '$work'" EXIT
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
}
