# N empty WebSocket pings from one socket (sent 10,000 to a write) while another room pings:
# the server's CPU per ping, the pongs that came back, the other room's worst ping.
#   python3 Benchmarks/relay/pingflood.py PORT SERVER_PID N
import sys, threading, time, socket; sys.path.insert(0, __import__("os").path.dirname(__file__))
from wsprobe import WS, cpu_of
port, pid, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
victim = WS(port); victim.send_text('{"type":"ping"}'); victim.recv_json()
ws = WS(port)
ping = WS.frame(9, b"")  # 6 bytes: an empty masked ping
got = [0]
def reader():
    ws.s.settimeout(5)
    try:
        while got[0] < n:
            d = ws.s.recv(1 << 20)
            if not d: break
            got[0] += len(d) // 2   # each pong is 2 bytes (0x8a 0x00)
    except socket.timeout: pass
t = threading.Thread(target=reader); t.start()
c0 = cpu_of(pid); t0 = time.time()
chunk = ping * 10000
lat = []
for i in range(n // 10000):
    ws.s.sendall(chunk)
    if i % 5 == 0:
        s = time.time(); victim.send_text('{"type":"ping"}'); victim.recv_json(); lat.append(time.time() - s)
t.join(); t1 = time.time(); c1 = cpu_of(pid)
print(f"{n} pings ({n*6} bytes) in {t1-t0:.2f}s wall; pongs ~{got[0]}; server CPU {c1-c0:.2f}s = {(c1-c0)/n*1e6:.1f} us/ping; victim ping RTT max {max(lat)*1000:.1f} ms")
ws.close(); victim.close()
