# A host that fills its room to the entity caps (1,000 enemies and 1,000 coins of ~2 KB each) and
# then asks for a sync 20 times a second, beside a relay-bench run: what one such room costs the
# others. The room has no guest: the server writes each answer out all the same, and this side
# stays cheap (it reads only the host's own echoes and errors). Prints how many syncs were answered.
#   python3 Benchmarks/relay/sync_flood.py PORT ROOMS SECONDS
import json, os, sys, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from wsprobe import WS

port, rooms, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])


counts = {"rate_limited": 0}
lock = threading.Lock()


def read_all(ws):
    try:
        while True:
            m = ws.recv_json(timeout=None)
            kind = "rate_limited" if m.get("code") == "rate_limited" else m["type"]
            if kind in counts:
                with lock:
                    counts[kind] += 1
    except Exception:
        pass


hosts = []
pad = "p" * 1800
for r in range(rooms):
    host = WS(port)
    host.send_text(json.dumps({"type": "create_room", "player_name": f"flood{r}"}))
    code = None
    while code is None:
        m = host.recv_json()
        code = m["room_id"] if m["type"] == "room_created" else None
    threading.Thread(target=read_all, args=(host,), daemon=True).start()
    for i in range(1000):  # within the 4,000-message burst of the message budget
        host.send_text(json.dumps({"type": "enemy_spawn", "enemy": {"enemy_id": f"e{i}", "pad": pad}}))
        host.send_text(json.dumps({"type": "coin_spawn", "coin": {"coin_id": f"c{i}", "pad": pad}}))
    hosts.append(host)
time.sleep(1)
start, sent = time.time(), 0
while time.time() < start + seconds:
    for host in hosts:
        host.send_text(json.dumps({"type": "sync_entities", "enemies": [], "coins": []}))
        sent += 1
    time.sleep(1 / 20)
time.sleep(0.5)
print(f"sync flood: {rooms} rooms, {seconds:.0f} s: {sent} syncs sent, "
      f"{sent - counts['rate_limited']} answered, {counts['rate_limited']} rate_limited")
