#!/usr/bin/env python3
# One client that sends the costliest messages it can, as fast as TCP takes them, for SECONDS:
# 64 KB messages of 8,000 tiny JSON objects, in a room of its own. KIND "action": game_action
# (decoded, then its data encoded again, until session 21 relayed it from its bytes); "enemy":
# enemy_state for an enemy nobody spawned (relayed from its bytes since session 20); "pad": a
# chat with the objects in a member nobody reads (the general path); "tracked": enemy_state for an
# enemy it spawned (the state decoded, then refused for its size); "dense": the same with 1.7 KB
# states of 210 objects, which fit the entity cap; "digits": player_state with 3,000 floats of 17
# significant digits (JavaScript's 0.1 + 0.2), which the fast path parses and prints the slow way.
# Prints how many it sent.
#   python3 Benchmarks/relay/heavy_flood.py PORT SECONDS [action|enemy|pad|tracked|dense|digits]
import os, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from wsprobe import WS

port, seconds = int(sys.argv[1]), float(sys.argv[2])
kind = sys.argv[3] if len(sys.argv) > 3 else "action"
objects = ",".join(['{"a":0}'] * (210 if kind == "dense" else 7990))
if kind in ("enemy", "tracked", "dense"):
    enemy = "nobody" if kind == "enemy" else "e1"
    text = '{"type":"enemy_state","enemy_id":"' + enemy + '","state":{"k":[' + objects + ']}}'
elif kind == "digits":
    text = '{"type":"player_state","state":{"k":[' + ",".join(["0.30000000000000004"] * 3000) + ']}}'
elif kind == "pad":
    text = '{"type":"chat","message":"hi","pad":[' + objects + ']}'
else:
    text = '{"type":"game_action","action":"x","data":{"k":[' + objects + ']}}'
assert len(text) <= 65536, len(text)
client = WS(port)
client.send_text('{"type":"create_room","player_name":"A"}'); client.recv_json(); client.recv_json()
if kind in ("tracked", "dense"):
    client.send_text('{"type":"enemy_spawn","enemy":{"enemy_id":"e1","enemy_type":"slime","x":1,"y":2}}')
    client.recv_json()
frames = WS.frame(1, text.encode()) * 16
sent, start = 0, time.time()
while time.time() - start < seconds:
    client.s.sendall(frames)
    sent += 16
print(f"heavy_flood {kind}: {sent} messages handed to TCP in {time.time() - start:.1f} s", file=sys.stderr)
