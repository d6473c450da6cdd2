# One message begun and never finished: a text frame without FIN, then N empty continuation
# frames (6 bytes each, sent 10,000 to a write), while another room pings: the server's CPU per
# frame, how many frames it took before closing, and the other room's worst ping.
#   python3 Benchmarks/relay/fragment_flood.py PORT SERVER_PID N
import sys, time, socket; sys.path.insert(0, __import__("os").path.dirname(__file__))
from wsprobe import WS, cpu_of
port, pid, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
victim = WS(port); victim.send_text('{"type":"ping"}'); victim.recv_json()
ws = WS(port)
ws.s.sendall(WS.frame(1, b'{"type":', fin=False))
chunk = WS.frame(0, b"", fin=False) * 10000
c0 = cpu_of(pid); t0 = time.time(); sent = 0; lat = []; closed = ""
try:
    for i in range(n // 10000):
        ws.s.sendall(chunk); sent += 10000
        if i % 5 == 0:
            s = time.time(); victim.send_text('{"type":"ping"}'); victim.recv_json(); lat.append(time.time() - s)
except OSError as error:
    closed = f"; closed by the server after ~{sent} frames sent ({type(error).__name__})"
t1 = time.time(); time.sleep(0.5); c1 = cpu_of(pid)
print(f"{sent} empty continuation frames ({sent*6} bytes) in {t1-t0:.2f}s wall; server CPU {c1-c0:.2f}s "
      f"= {(c1-c0)/max(sent,1)*1e9:.0f} ns/frame; victim ping RTT max {max(lat or [0])*1000:.1f} ms{closed}")
ws.close(); victim.close()
