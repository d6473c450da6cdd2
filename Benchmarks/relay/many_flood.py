#!/usr/bin/env python3
# CONNECTIONS clients from one address, each in a room of its own, sending as fast as TCP takes
# them for SECONDS. KIND "state": the game's ~130-byte player_state (the cheapest message to send,
# shed past its budget); "pad": 64 KB chats of 8,000 tiny JSON objects in a member nobody reads
# (the costliest to decode). One process drives every socket (non-blocking, select), so it uses
# one core at most; run it niced beside the bench. The connections name one client, 10.9.9.9, in
# X-Forwarded-For (a loopback peer is a proxy the server trusts by default), so the server counts
# them as one remote address: loopback clients are not counted. With EACH_ITS_OWN_ADDRESS=1 each
# names an address of its own (10.9.0.1, 10.9.0.2, …). Prints how many messages TCP took. More than
# 128 connections from one address need a server started with `--max-rooms-per-address 0`.
#   python3 Benchmarks/relay/many_flood.py PORT SECONDS CONNECTIONS [state|pad]
import os, selectors, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from wsprobe import WS, Refused

port, seconds, count = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
kind = sys.argv[4] if len(sys.argv) > 4 else "state"
if kind == "pad":
    text, per_send = '{"type":"chat","message":"hi","pad":[' + ",".join(['{"a":0}'] * 7990) + ']}', 4
else:
    text = '{"type":"player_state","state":{"x":412.5,"y":300.25,"velocity_x":120,"velocity_y":-40,' \
        '"animation":"run","flip_x":false}}'
    per_send = 400
assert len(text) <= 65536, len(text)
burst = WS.frame(1, text.encode()) * per_send

def address(index):
    if os.environ.get("EACH_ITS_OWN_ADDRESS") == "1":
        return f"10.9.{index // 250}.{index % 250 + 1}"
    return "10.9.9.9"

clients = []
for _ in range(count):
    try:
        client = WS(port, headers=f"X-Forwarded-For: {address(len(clients))}\r\n")
    except (Refused, OSError) as error:
        print(f"many_flood: connection {len(clients) + 1} refused: {error}", file=sys.stderr)
        break
    client.send_text('{"type":"create_room","player_name":"F"}')
    if (reply := client.recv_json()).get("type") == "error":
        sys.exit(f"many_flood: connection {len(clients) + 1}'s create_room was refused: {reply.get('message')} "
                 "(--max-rooms-per-address 0 lifts the limit)")
    client.recv_json()
    client.s.setblocking(False)
    clients.append(client)

selector = selectors.DefaultSelector()
pending = {}
for client in clients:
    selector.register(client.s, selectors.EVENT_WRITE)
    pending[client.s] = memoryview(burst)
sent_bytes, start = 0, time.time()
while time.time() - start < seconds:
    for key, _ in selector.select(timeout=0.1):
        sock = key.fileobj
        try:
            written = sock.send(pending[sock])
        except BlockingIOError:
            continue
        except OSError:  # closed by the server (1008 for flooding, say): stop driving it
            selector.unregister(sock)
            continue
        sent_bytes += written
        rest = pending[sock][written:]
        pending[sock] = rest if len(rest) else memoryview(burst)
messages = sent_bytes // (len(burst) // per_send)
print(f"many_flood {kind}: {len(clients)} connections, {messages} messages handed to TCP in "
      f"{time.time() - start:.1f} s", file=sys.stderr)
