# Victims' ping while one member floods: 4 rooms ping in turn while another socket sends N
# heavy messages (KIND "objects": 64 KB enemy_states of 8,000 small objects; "flags": a create_room
# with a 64 KB name of flag letters). Prints the victims' worst ping and the server's CPU.
#   python3 Benchmarks/relay/stall.py PORT SERVER_PID N KIND
import sys, time, threading; sys.path.insert(0, __import__("os").path.dirname(__file__))
from wsprobe import WS, cpu_of
port, pid, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
kind = sys.argv[4]
victims = []
for i in range(4):  # each in its own room, spread over both loops
    v = WS(port); v.send_text('{"type":"create_room","player_name":"V%d"}' % i); v.recv_json(); v.recv_json(); victims.append(v)
a = WS(port)
if kind == "objects":
    a.send_text('{"type":"create_room","player_name":"A"}'); a.recv_json(); a.recv_json()
    msg = '{"type":"enemy_state","enemy_id":"nobody","state":{"k":[' + ",".join(['{"a":0}'] * 7990) + ']}}'
else:
    import json
    msg = json.dumps({"type": "create_room", "player_name": "\U0001F1E6" * 16000}, ensure_ascii=False)
base = []
for v in victims:
    s = time.time(); v.send_text('{"type":"ping"}'); v.recv_json(); base.append(time.time() - s)
done = [False]
def flood():
    for _ in range(n): a.send_text(msg)
    a.send_text('{"type":"ping"}')
    while a.recv_json(60)["type"] != "pong": pass
    done[0] = True
t = threading.Thread(target=flood); c0 = cpu_of(pid); t.start()
worst = [0.0] * 4; t0 = time.time()
while not done[0] and time.time() - t0 < 30:
    for i, v in enumerate(victims):
        s = time.time(); v.send_text('{"type":"ping"}'); v.recv_json(30); worst[i] = max(worst[i], time.time() - s)
    time.sleep(0.01)
t.join()
print(f"{kind} x{n}: baseline victim RTT max {max(base)*1000:.1f} ms; during flood, per-victim worst RTT (ms): {[round(w*1000) for w in worst]}; server CPU {cpu_of(pid)-c0:.2f}s in {time.time()-t0:.2f}s")
