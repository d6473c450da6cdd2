#!/usr/bin/env python3
"""Rounds of whole games against a running relay, ended every way a game ends, to show what the
server keeps afterwards: live rooms, open descriptors, threads and resident memory, per round.

    Benchmarks/relay/soak.py PORT SERVER_PID ROUNDS [ROOMS_PER_ROUND [SERVER_LOG]]

Start the server with a short reconnect window (`--reconnect-window-seconds 1`) so that dropped
players' rooms expire between rounds. Each round plays ROOMS two-player games on real sockets,
16 at a time (`SOAK_PARALLEL`):
both ready, the host starts, spawns enemies and kills one (coin drops), both send states, chat,
collect a coin, sync; then each game ends one of four ways, by its index:
  0  both send leave_room and close;
  1  the guest's socket is reset, it reconnects with its token on a new socket, then both reset;
  2  the host's socket is reset (the guest becomes host), the guest closes;
  3  both hang up without a close frame mid-game (their reconnect windows run out).
After each round it waits until `GET /api/rooms/all` is empty and prints what the server holds.
That list leaves out vacant rooms (every member dropped), so with the server's log (run it with
`LOG_LEVEL=debug`) it also waits until every room played has logged `room.closed`.
A leak shows as a column that keeps growing round after round; loopback only, bounded in time.
"""
import json, os, socket, struct, sys, time, urllib.request
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.dirname(__file__))
from wsprobe import WS, rss_of, cpu_of  # noqa: E402


def held_by(pid):
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    with open(f"/proc/{pid}/status") as f:
        threads = next(int(line.split()[1]) for line in f if line.startswith("Threads"))
    return fds, threads


def live_rooms(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/rooms/all", timeout=10) as answer:
        return len(json.load(answer))


def closed_rooms(log):
    if log is None:
        return None
    with open(log, errors="replace") as f:
        return sum("room.closed" in line for line in f)


def expect(ws, kind, timeout=10):
    """The next message of type `kind`, skipping others (broadcasts arrive in between)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = ws.recv_json(timeout=max(0.1, deadline - time.monotonic()))
        if message.get("type") == kind:
            return message
        if message.get("type") == "error":
            raise RuntimeError(f"waiting for {kind}: {message}")
    raise TimeoutError(kind)


def send(ws, **message):
    ws.send_text(json.dumps(message))


def reset(ws):
    """Hangs up with a TCP reset: no close frame, no FIN."""
    ws.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    ws.close()


def play(port, index):
    host = WS(port)
    send(host, type="create_room", room_name=f"soak {index}", player_name="Host")
    created = expect(host, "room_created")
    code = created["room_id"]
    guest = WS(port, f"/ws/room/{code}")
    send(guest, type="join_room", room_id=code, player_name="Guest")
    joined = expect(guest, "room_joined")
    for ws in (host, guest):
        send(ws, type="player_ready", is_ready=True)
    expect(host, "player_ready_changed"), expect(host, "player_ready_changed")
    send(host, type="start_game")
    expect(guest, "game_starting")

    for n in range(3):
        send(host, type="enemy_spawn", enemy={"enemy_id": f"e{n}", "enemy_type": "alien", "x": 100 * n, "y": 300,
                                              "coin_reward": 3, "health": 10, "max_health": 10})
    send(host, type="enemy_killed", enemy_id="e0")
    coin = expect(guest, "coin_spawned")["coin"]["coin_id"]
    for n in range(20):
        send(host, type="player_state", state={"x": n * 1.5, "y": 550, "velocity_x": 2.25, "facing_right": True})
        send(guest, type="player_state", state={"x": n * 2.5, "y": 550, "is_jumping": n % 2 == 0})
        send(host, type="enemy_state", enemy_id="e1", state={"x": n, "health": 9})
    send(guest, type="collect_item", item_type="coin", item_id=coin)
    send(guest, type="chat", message="gg")
    send(host, type="sync_entities", enemies=[{"enemy_id": "e2", "x": 5, "y": 6, "is_alive": True}], coins=[])
    send(guest, type="game_action", action="shoot", data={"angle": 1.25})
    expect(host, "chat")  # everything the guest sent before it has been handled

    ending = index % 4
    if ending == 0:
        send(host, type="leave_room"), send(guest, type="leave_room")
        expect(host, "room_left"), expect(guest, "room_left")
        host.close(), guest.close()
    elif ending == 1:
        reset(guest)
        expect(host, "player_disconnected")
        again = WS(port, f"/ws/room/{code}")
        send(again, type="reconnect", room_id=code, player_id=joined["player_id"], token=joined["reconnect_token"])
        expect(again, "reconnected")
        reset(again), reset(host)
    elif ending == 2:
        reset(host)
        expect(guest, "player_disconnected")
        guest.close()
    else:
        host.close(), guest.close()


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)  # prints the usage at its top, exit status 1
    port, pid, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    rooms = int(sys.argv[4]) if len(sys.argv) > 4 else 50
    log = sys.argv[5] if len(sys.argv) > 5 else None
    closed_before = closed_rooms(log) or 0
    fds, threads = held_by(pid)
    print(f"before     rooms listed {live_rooms(port):3}  fds {fds:5}  threads {threads:3}  rss {rss_of(pid) / 1024:7.1f} MB")
    for number in range(1, rounds + 1):
        start, cpu = time.monotonic(), cpu_of(pid)
        with ThreadPoolExecutor(int(os.environ.get("SOAK_PARALLEL", "16"))) as pool:
            list(pool.map(lambda index: play(port, index), range(rooms)))  # raises what a game raised
        played = time.monotonic() - start
        deadline = time.monotonic() + 30
        def open_rooms():
            closed = closed_rooms(log)
            return live_rooms(port), None if closed is None else number * rooms - (closed - closed_before)
        while any(open_rooms()) and time.monotonic() < deadline:
            time.sleep(0.25)
        listed, unclosed = open_rooms()
        fds, threads = held_by(pid)
        print(f"round {number:3}  rooms listed {listed:3} not closed {unclosed}  fds {fds:5}  threads {threads:3}  rss {rss_of(pid) / 1024:7.1f} MB"
              f"  ({rooms} games in {played:.1f} s, server CPU {cpu_of(pid) - cpu:.2f} s)", flush=True)


if __name__ == "__main__":
    main()
