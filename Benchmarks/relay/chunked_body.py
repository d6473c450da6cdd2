# POST /api/scores with a 15 KB body, N times over one connection, in chunks of CHUNK bytes
# (0: one Content-Length body): the server's CPU per request.
#   python3 Benchmarks/relay/chunked_body.py PORT SERVER_PID N CHUNK
# (server started with API_KEY=k and --writes-per-second-per-address 0)
import socket, sys, time, json
sys.path.insert(0, __import__("os").path.dirname(__file__))
from wsprobe import cpu_of
port, pid, n, chunk = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
body = json.dumps({"player_name": "p" * 30, "score": 1, "coins": 0, "enemies_defeated": 0, "distance": 0, "level": 1, "game_mode": "x", "pad": "y" * 15000}).encode()
if chunk:
    framed = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i+chunk]), body[i:i+chunk]) for i in range(0, len(body), chunk)) + b"0\r\n\r\n"
    head = b"POST /api/scores HTTP/1.1\r\nHost: x\r\nX-API-Key: k\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
else:
    framed = body
    head = b"POST /api/scores HTTP/1.1\r\nHost: x\r\nX-API-Key: k\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
s = socket.create_connection(("127.0.0.1", port))
c0 = cpu_of(pid); t0 = time.time()
for _ in range(n):
    s.sendall(head + framed)
    buf = b""
    while b"\r\n\r\n" not in buf: buf += s.recv(65536)
    h, _, rest = buf.partition(b"\r\n\r\n")
    length = int([l.split(b":")[1] for l in h.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
    while len(rest) < length: rest += s.recv(65536)
c1 = cpu_of(pid)
print(f"chunk {chunk or 'none'}: {len(head)+len(framed)} bytes on the wire for a {len(body)} byte body, status {h.split()[1].decode()}: server CPU {(c1-c0)/n*1000:.2f} ms per request, wall {(time.time()-t0)/n*1000:.2f} ms")
