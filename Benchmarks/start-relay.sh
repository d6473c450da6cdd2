# Sourced by the benchmark scripts: start_relay WORK_DIR starts $BUILD/relay pinned to CPU
# $SERVER_CPU on 127.0.0.1:$PORT (open-file limit raised as far as allowed), with its data in
# WORK_DIR/data, its output in WORK_DIR/relay.log and $SERVER_FLAGS added; sets `server` to its
# pid; on exit stops it (SIGTERM, waits) and removes WORK_DIR, first printing the end of its log
# to stderr if it had exited on its own (a crash mid-run). Returns once it listens, and exits the
# script if it does not: a port already taken (another server) must not be measured by mistake.
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

# The EXIT trap of start_relay: stops the relay, or, if it had exited on its own, shows why.
stop_relay() {
    if kill -TERM "$server" 2>/dev/null; then
        wait "$server" 2>/dev/null || true
    elif [ -n "$relay_listened" ]; then
        echo "the relay (pid $server) had exited before the end; the end of its log:" >&2
        tail -n 20 "$relay_work/relay.log" >&2 || true
    fi
    rm -rf "$relay_work"
}
