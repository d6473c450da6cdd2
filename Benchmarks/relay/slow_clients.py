# Slow consumers beside a relay-bench run: N rooms, each with a sender of player_state at 30 Hz
# (2 KB of padding; it reads and discards) and a room-mate that never reads (SO_RCVBUF 4 KB).
#   python3 Benchmarks/relay/slow_clients.py PORT ROOMS SECONDS
import json, os, sys, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from wsprobe import WS

port, n, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
senders, sleepers = [], []
for i in range(n):
    a = WS(port)
    a.send_text(json.dumps({"type": "create_room", "player_name": f"s{i}"}))
    code = None
    while code is None:
        m = a.recv_json()
        if m["type"] == "room_created": code = m["room_id"]
    b = WS(port, f"/ws/room/{code}", rcvbuf=4096)
    b.send_text(json.dumps({"type": "join_room", "player_name": f"z{i}"}))
    senders.append(a); sleepers.append(b)

def drain(ws):
    ws.s.settimeout(0.5)
    try:
        while ws.s.recv(65536): pass
    except Exception: pass

for a in senders: threading.Thread(target=drain, args=(a,), daemon=True).start()
end = time.time() + secs; k = 0
pad = "p" * 2000
while time.time() < end:
    k += 1
    for a in senders:
        try: a.send_text(json.dumps({"type": "player_state", "state": {"x": k, "y": 1.5, "pad": pad}}))
        except Exception: pass
    time.sleep(1 / 30)
print("slow harness done", k, "rounds")
