#!/usr/bin/env python3
# A host that spawns and kills enemies in a loop, each kill dropping the most coins allowed (100):
# every cycle broadcasts `enemy_spawned`, `enemy_killed` and 100 `coin_spawned`. KIND "same"
# spawns under one id again and again (a spawn revives the dead), "fresh" under a new id each
# time. It sends at its message budget (2,000 a second, in batches every 50 ms) and reads what
# comes back on another thread. Prints cycles sent, what was refused, and the server's CPU.
#   python3 Benchmarks/relay/respawn_loop.py PORT SERVER_PID SECONDS [same|fresh]
import json, os, sys, threading, time
sys.path.insert(0, os.path.dirname(__file__))
from wsprobe import WS, cpu_of

port, pid, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
kind = sys.argv[4] if len(sys.argv) > 4 else "same"
host = WS(port)
host.send_text('{"type":"create_room","player_name":"Host"}')
host.recv_json(); host.recv_json()

counts = {"coin_spawned": 0, "errors": {}, "closed": None}
def drain():
    try:
        while True:
            message = host.recv_json(timeout=30)
            if message.get("type") == "coin_spawned":
                counts["coin_spawned"] += 1
            elif message.get("type") == "error":
                code = message.get("code")
                counts["errors"][code] = counts["errors"].get(code, 0) + 1
    except Exception as error:
        counts["closed"] = str(error)
reader = threading.Thread(target=drain, daemon=True)
reader.start()

cycles, start, cpu = 0, time.time(), cpu_of(pid)
while time.time() - start < seconds and counts["closed"] is None:
    batch = []
    for _ in range(50):  # 100 messages every 50 ms: the sustained budget
        enemy = "e" if kind == "same" else f"e{cycles}"
        batch.append(WS.frame(1, json.dumps({"type": "enemy_spawn", "enemy": {
            "enemy_id": enemy, "enemy_type": "slime", "x": 100, "y": 200, "coin_reward": 100}}).encode()))
        batch.append(WS.frame(1, json.dumps({"type": "enemy_killed", "enemy_id": enemy}).encode()))
        cycles += 1
    host.s.sendall(b"".join(batch))
    time.sleep(max(0, start + cycles / 1000 - time.time()))
elapsed = time.time() - start
time.sleep(1)
print(f"respawn_loop {kind}: {cycles} cycles sent in {elapsed:.1f} s; {counts['coin_spawned']} coin_spawned "
      f"received; errors {counts['errors']}; closed: {counts['closed']}; server CPU {cpu_of(pid) - cpu:.2f} s")
