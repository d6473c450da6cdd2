#!/usr/bin/env python3
# A client that reconnects in a loop to a full room, each time on a fresh socket with the token
# the last `reconnected` gave it: every answer carries the room's whole game_state. The host
# fills the room first (1,000 enemies, coins and power-ups of ~600 bytes each), and stays.
# Prints the reconnects answered and refused, and the server's CPU over the loop.
#   python3 Benchmarks/relay/reconnect_loop.py PORT SERVER_PID SECONDS
import json, sys, os, time
sys.path.insert(0, os.path.dirname(__file__))
from wsprobe import WS, cpu_of

port, pid, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
pad = "p" * 500

def until(ws, kind):
    while True:
        message = ws.recv_json(timeout=30)
        if message.get("type") == kind:
            return message

host = WS(port)
host.send_text('{"type":"create_room","player_name":"Host"}')
code = until(host, "room_created")["room_id"]
guest = WS(port, f"/ws/room/{code}")
guest.send_text('{"type":"join_room","player_name":"Guest"}')
joined = until(guest, "room_joined")
player, token = joined["player_id"], joined["reconnect_token"]
host.send_text('{"type":"player_ready","is_ready":true}')
guest.send_text('{"type":"player_ready","is_ready":true}')
host.send_text('{"type":"start_game"}')
until(host, "game_starting")
for index in range(1000):
    host.send_text(json.dumps({"type": "enemy_spawn", "enemy": {"enemy_id": f"e{index}", "enemy_type": "slime",
                                                              "x": index, "y": 1, "pad": pad}}))
    host.send_text(json.dumps({"type": "coin_spawn", "coin": {"coin_id": f"c{index}", "x": index, "y": 2, "pad": pad}}))
    host.send_text(json.dumps({"type": "powerup_spawn",
                               "powerup": {"powerup_id": f"u{index}", "x": index, "y": 3, "pad": pad}}))
host.send_text('{"type":"ping"}')
until(host, "pong")
guest.close()

answered = refused = 0
start, cpu = time.time(), cpu_of(pid)
while time.time() - start < seconds:
    comeback = WS(port)
    comeback.send_text(json.dumps({"type": "reconnect", "room_id": code, "player_id": player, "token": token}))
    message = comeback.recv_json(timeout=30)
    if message.get("type") == "reconnected":
        answered += 1
        token = message["reconnect_token"]
    else:
        refused += 1
    comeback.close()
elapsed = time.time() - start
print(f"reconnect_loop: {answered} answered, {refused} refused in {elapsed:.1f} s; "
      f"server CPU {cpu_of(pid) - cpu:.2f} s")
