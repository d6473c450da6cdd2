# POST /api/scores with a 15 KB player_name of flag letters (regional indicators) between spaces,
# N times over one connection: the server's CPU per request (the answer is 422: too long).
#   python3 Benchmarks/relay/flag_name.py PORT SERVER_PID N     (server started with API_KEY=k)
import http.client, json, sys, time
sys.path.insert(0, __import__("os").path.dirname(__file__))
from wsprobe import cpu_of
port, pid, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
name = " " + "\U0001F1EB\U0001F1F7" * 1900 + " "
body = json.dumps({"player_name": name, "score": 1, "coins": 0, "enemies_defeated": 0, "distance": 0, "level": 1, "game_mode": "x"}, ensure_ascii=False).encode()
c = http.client.HTTPConnection("127.0.0.1", port)
h = {"X-API-Key": "k", "Content-Type": "application/json"}
c0 = cpu_of(pid); t0 = time.time()
for _ in range(n):
    c.request("POST", "/api/scores", body=body, headers=h); r = c.getresponse(); d = r.read()
c1 = cpu_of(pid)
print(f"{len(body)} byte body, status {r.status}: server CPU {(c1-c0)/n*1000:.2f} ms per request ({n} requests)")
