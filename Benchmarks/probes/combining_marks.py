#!/usr/bin/env python3
"""Times input whose strings Swift sorts before it can hash or compare them (BENCHMARKS.md,
session 49): a room-socket message whose key, then `type`, is `a` + N x U+0301 + N x U+0316, and
first requests with one header value of 4,000 + 3,000 such marks.

    python3 Benchmarks/probes/combining_marks.py PORT [N]      (N: 16000 by default, a 64 KB message)

Run it against a release relay pinned to another core (`taskset -c 1 relay --port PORT`, the probe
under `taskset -c 0`). Each line: what was sent, the time to its answer, and the answer.
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "relay"))
from wsprobe import WS  # noqa: E402

port = int(sys.argv[1])
n = int(sys.argv[2]) if len(sys.argv) > 2 else 16000
marks = "\u0301" * n + "\u0316" * n

ws = WS(port, "/ws/room/new")
for label, message in [
    ("ascii", '{"type":"ping","a":0}'),
    ("key", '{"type":"ping","a' + marks + '":0}'),
    ("type", '{"type":"a' + marks + '"}'),
]:
    start = time.perf_counter()
    ws.send_text(message)
    answer = ws.recv_json()
    print(f"socket {label}: {len(message.encode())} bytes, {(time.perf_counter() - start) * 1000:.1f} ms,",
          answer.get("type"), answer.get("code") or "")

value = "a" + "\u0301" * 4000 + "\u0316" * 3000
for name in ["X-Note", "Connection", "Upgrade", "Expect"]:
    times = []
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", port)) as s:
            start = time.perf_counter()
            s.sendall(f"GET /api/rooms HTTP/1.1\r\nHost: x\r\n{name}: {value}\r\n\r\n".encode())
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = s.recv(65536)
                if not chunk:
                    break
                head += chunk
            times.append(round((time.perf_counter() - start) * 1000, 1))
    print(f"header {name}: {times} ms,", head.split(b"\r\n")[0].decode())
