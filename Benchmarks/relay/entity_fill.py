#!/usr/bin/env python3
"""Memory a room's entities take: creates ROOMS rooms one after another on loopback, each filled
by its host alone with 1,000 power-ups, enemies and coins of ~1.9 KB, and prints the server's RSS
growth after each. Usage: entity_fill.py PORT SERVER_PID ROOMS (bounded: ROOMS x 3,000 messages)."""
import sys, time, json, threading
sys.path.insert(0, __import__("os").path.dirname(__file__))
from wsprobe import WS, rss_of
port = int(sys.argv[1]); pid = int(sys.argv[2]); rooms = int(sys.argv[3])
pad = "x" * 1850
def drain(ws, stop):
    ws.s.settimeout(0.5)
    while not stop.is_set():
        try:
            d = ws.s.recv(1 << 20)
            if not d: break
        except Exception: pass
before = rss_of(pid)
conns = []
for r in range(rooms):
    ws = WS(port, "/ws/room/new", timeout=120)
    ws.send_text(json.dumps({"type": "create_room", "player_name": "h"}))
    stop = threading.Event(); t = threading.Thread(target=drain, args=(ws, stop)); t.start()
    for i in range(1000):
        ws.send_text(json.dumps({"type": "powerup_spawn", "powerup": {"powerup_id": f"p{i}", "pad": pad}}))
        ws.send_text(json.dumps({"type": "enemy_spawn", "enemy": {"enemy_id": f"e{i}", "pad": pad}}))
        ws.send_text(json.dumps({"type": "coin_spawn", "coin": {"coin_id": f"c{i}", "value": pad}}))
    time.sleep(0.5)
    stop.set(); t.join()
    conns.append(ws)
    print(f"room {r+1}: rss {rss_of(pid)-before} kB more", flush=True)
