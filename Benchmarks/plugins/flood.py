#!/usr/bin/env python3
"""Clients flooding a plugin's type with long messages, and what a bystander of that type gets.
Loopback only, bounded in time.

    Benchmarks/plugins/flood.py PORT ATTACKERS SECONDS [PAD [open]]

Against a relay on PORT serving `roll_dice` (examples/plugins/dice.sh), ATTACKERS connections
(outside rooms) send `roll_dice` padded with PAD bytes (default 60000), each waiting for its answer
before the next (with `open`, without waiting), for SECONDS; meanwhile a bystander in a room
rolls every 100 ms. Prints the bystander's answers, errors and round trips, and what the
attackers got.
"""
import os, sys, json, time, threading
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'relay'))
from wsprobe import WS

port, attackers, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
pad = int(sys.argv[4]) if len(sys.argv) > 4 else 60000
open_loop = len(sys.argv) > 5 and sys.argv[5] == "open"  # attackers send without waiting for answers
stop = time.time() + seconds
counts = {"attack_sent": 0, "attack_errors": {}}
lock = threading.Lock()

def reply(ws):
    while True:
        m = ws.recv_json()
        if m.get("type") in ("dice_rolled", "error"):
            return m

def attacker():
    ws = WS(port, '/ws/room/new')
    big = json.dumps({"type": "roll_dice", "pad": "x" * pad})
    if open_loop:
        def drain():
            while time.time() < stop + 2:
                try: m = ws.recv_json()
                except Exception: return
                if m.get("type") in ("dice_rolled", "error"):
                    with lock:
                        counts["attack_sent"] += 1
                        if m["type"] == "error":
                            counts["attack_errors"][m["code"]] = counts["attack_errors"].get(m["code"], 0) + 1
        threading.Thread(target=drain, daemon=True).start()
        while time.time() < stop:
            try: ws.send_text(big)
            except Exception: return
        return
    while time.time() < stop:
        ws.send_text(big)
        m = reply(ws)
        with lock:
            counts["attack_sent"] += 1
            if m["type"] == "error":
                counts["attack_errors"][m["code"]] = counts["attack_errors"].get(m["code"], 0) + 1

threads = [threading.Thread(target=attacker, daemon=True) for _ in range(attackers)]
for t in threads: t.start()
ws = WS(port, '/ws/room/new')
ws.send_text(json.dumps({"type": "create_room", "player_name": "by"}))
while ws.recv_json().get("type") != "room_created": pass
ok, errors, lat = 0, {}, []
while time.time() < stop:
    t0 = time.time()
    ws.send_text(json.dumps({"type": "roll_dice", "sides": 6}))
    m = reply(ws)
    if m["type"] == "dice_rolled":
        ok += 1; lat.append((time.time() - t0) * 1000)
    else:
        errors[m["code"]] = errors.get(m["code"], 0) + 1
    time.sleep(0.1)
for t in threads: t.join(timeout=5)
lat.sort()
p = lambda q: round(lat[min(len(lat) - 1, int(q * len(lat)))], 1) if lat else None
total = ok + sum(errors.values())
print(f"attackers={attackers} pad={pad} bystander: {ok}/{total} answered, errors={errors}, "
      f"p50={p(0.5)} ms p99={p(0.99)} ms; attackers: {counts['attack_sent']} requests, errors={counts['attack_errors']}")
