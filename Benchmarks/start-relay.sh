# Sourced by the benchmark scripts: start_relay WORK_DIR starts $BUILD/relay pinned to CPU
# $SERVER_CPU on 127.0.0.1:$PORT (open-file limit raised as far as allowed), with its data in
# WORK_DIR/data, its output in WORK_DIR/relay.log and $SERVER_FLAGS added; sets `server` to its
# pid; on exit stops it (SIGTERM, waits) and removes WORK_DIR. Returns once it listens, and exits
# the script if it does not: a port already taken (another server) must not be measured by mistake.
start_relay() {
    local work=$1
    # shellcheck disable=SC2086  # SERVER_FLAGS is a list of flags
    bash -c "ulimit -n 65536 2>/dev/null || ulimit -n \$(ulimit -Hn); exec taskset -c ${SERVER_CPU:-1} $BUILD/relay \
        --port $PORT --data-dir $work/data ${SERVER_FLAGS:-}" > "$work/relay.log" 2>&1 &
    server=$!
    # shellcheck disable=SC2064  # expand now: the trap runs after `work` is gone
    trap "kill -TERM $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf '$work'" EXIT
    for _ in $(seq 100); do
        grep -q "listening on" "$work/relay.log" 2>/dev/null && break
        sleep 0.1
    done
    if ! kill -0 "$server" 2>/dev/null || ! grep -q "listening on" "$work/relay.log"; then
        echo "relay did not start on port $PORT:" >&2
        cat "$work/relay.log" >&2
        exit 1
    fi
}
