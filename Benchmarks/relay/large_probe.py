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
import os, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from wsprobe import WS

port, seconds = int(sys.argv[1]), float(sys.argv[2])
size = int(sys.argv[3]) if len(sys.argv) > 3 else 12_000
interval = float(sys.argv[4]) if len(sys.argv) > 4 else 0.25
shape = sys.argv[5] if len(sys.argv) > 5 else "values"
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

latencies, lost, start, slowest = [], 0, time.monotonic(), (0, 0)
while time.monotonic() - start < seconds:
    sent = time.monotonic()
    host.send_text(text)
    try:
        while True:
            message = guest.recv_json(timeout=5)
            if message.get("type") == "chat" and message.get("message") == "big": break
        latencies.append((time.monotonic() - sent) * 1000)
        slowest = max(slowest, (latencies[-1], sent - start))
    except TimeoutError:
        lost += 1
    host.s.setblocking(False)  # the host's own copies: drop them
    try:
        while host.s.recv(1 << 20): pass
    except BlockingIOError:
        pass
    host.s.setblocking(True)
    time.sleep(max(0, sent + interval - time.monotonic()))

latencies.sort()
pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")
print(f"large_probe: {len(latencies)} large messages of {len(text)} bytes, {lost} not within 5 s; "
      f"p50 {pick(0.5):.1f} ms, p90 {pick(0.9):.1f} ms, p99 {pick(0.99):.1f} ms, max {pick(1.0):.1f} ms "
      f"(sent {slowest[1]:.1f} s in)")
