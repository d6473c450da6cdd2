#!/usr/bin/env python3
# How long a calm client's occasional large message takes to reach its room-mate: a host sends a
# chat padded to BYTES (default 12 KB, over the server's 8 KiB line for pacing large messages,
# about what a host's sync_entities of ~100 enemies weighs) every INTERVAL seconds (default 0.25)
# for SECONDS, and its guest times each one's arrival. Run it beside a flood (flood_beside_rooms.sh
# with LARGE_PROBE=1) to see whether the flood's large messages hold up a player's. Prints the
# count and latency percentiles in ms. SHAPE "values" (the default) pads with tiny objects, two
# JSON values per 8 bytes, as dense as a sync_entities; "string" with one long string, so the
# message costs its bytes alone and stays within a busy loop's cap for each connection
# (`--busy-loop-inbound-bytes-per-second`): what it waits for is then the other large messages.
#   python3 Benchmarks/relay/large_probe.py PORT SECONDS [BYTES [INTERVAL [values|string]]]
import os, select, socket, sys, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from wsprobe import WS

port, seconds = int(sys.argv[1]), float(sys.argv[2])
size = int(sys.argv[3]) if len(sys.argv) > 3 else 12_000
interval = float(sys.argv[4]) if len(sys.argv) > 4 else 0.25
shape = sys.argv[5] if len(sys.argv) > 5 else "values"
if interval <= 0: sys.exit("INTERVAL must be above 0")
if shape == "string":
    text = '{"type":"chat","message":"big","pad":"' + "a" * size + '"}'
else:
    text = '{"type":"chat","message":"big","pad":[' + ",".join(['{"a":0}'] * (size // 8)) + ']}'

host = WS(port, headers="X-Forwarded-For: 10.8.0.1\r\n")
host.send_text('{"type":"create_room","player_name":"H"}')
host.recv_json(); code = host.recv_json()["room_id"]
guest = WS(port, path=f"/ws/room/{code}", headers="X-Forwarded-For: 10.8.0.2\r\n")
guest.send_text(f'{{"type":"join_room","room_id":"{code}","player_name":"G"}}')
while guest.recv_json().get("type") != "room_joined": pass

# Open loop: each message is due at a fixed time whatever the server does, and its latency runs
# from then, so a slow delivery does not put off the next send and hide itself (as waiting for each
# reply before the next send would). Each carries its number, so a late one is never taken for a
# later message's.
due, arrived, repeated, done = {}, {}, 0, threading.Event()

def read_guest():
    global repeated
    while not done.is_set() or len(arrived) < len(due):
        try:
            message = guest.recv_json(timeout=0.5)
        except TimeoutError:
            continue
        except (EOFError, OSError):
            return
        words = str(message.get("message", "")).split()
        if message.get("type") != "chat" or len(words) != 2 or words[0] != "big": continue
        number = int(words[1])
        if number in arrived: repeated += 1
        else: arrived[number] = time.monotonic()

def drain_host():  # the host's own copies: drop them, unparsed and without touching the socket's
    # timeout (its sends, on the main thread, keep theirs)
    while not done.is_set():
        readable, _, _ = select.select([host.s], [], [], 0.5)
        if not readable: continue
        try:
            if not host.s.recv(1 << 20, socket.MSG_DONTWAIT): return
        except (BlockingIOError, TimeoutError):  # woken for nothing: a socket with a timeout polls again
            continue
        except OSError:
            return

readers = [threading.Thread(target=read_guest, daemon=True), threading.Thread(target=drain_host, daemon=True)]
for reader in readers: reader.start()
start = time.monotonic()
number = 0
while (due_at := start + number * interval) < start + seconds:
    time.sleep(max(0, due_at - time.monotonic()))
    due[number] = due_at
    host.send_text(text.replace('"message":"big"', f'"message":"big {number}"', 1))
    number += 1
done.set()
readers[0].join(timeout=5)  # what has not arrived 5 s after the last send counts as lost

timed = sorted(((arrived[n] - due[n]) * 1000, due[n] - start) for n in list(arrived) if n in due)
latencies = [latency for latency, _ in timed]
slowest = max(timed, default=(0, 0))
lost = len(due) - len(timed)
pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")
print(f"large_probe: {len(latencies)} large messages of {len(text)} bytes, {lost} not arrived 5 s after the last send, {repeated} repeated; "
      f"p50 {pick(0.5):.1f} ms, p90 {pick(0.9):.1f} ms, p99 {pick(0.99):.1f} ms, max {pick(1.0):.1f} ms "
      f"(due {slowest[1]:.1f} s in)")
