#!/usr/bin/env python3
"""Whether the relay closes its side of connections it ends after their answer, when a request was
pipelined behind it (BENCHMARKS.md, session 49): a stray `Upgrade`, and HTTP/1.0 chunked with
keep-alive. The client reads the answer and keeps its socket open; WAIT seconds later (default 35,
past the 30 s HTTP timeout) `ss -tnp` says whether the relay still holds the server's socket.

    python3 Benchmarks/probes/held_after_close.py PORT [WAIT]
"""
import socket
import subprocess
import sys
import time

port = int(sys.argv[1])
wait = float(sys.argv[2]) if len(sys.argv) > 2 else 35
cases = {
    "stray Upgrade": b"GET /api/rooms HTTP/1.1\r\nHost: a\r\nUpgrade: x\r\n\r\n"
    b"GET /api/rooms HTTP/1.1\r\nHost: a\r\n\r\n",
    "HTTP/1.0 chunked": b"GET /api/rooms HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"0\r\n\r\nGET /api/rooms HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
}
sockets = []
for name, request in cases.items():
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(request)
    s.settimeout(5)
    received = b""
    try:
        while chunk := s.recv(65536):
            received += chunk
    except socket.timeout:
        print(f"{name}: no end of the answer in 5 s")
    print(f"{name}: {received.count(b'HTTP/1.')} answer(s)")
    sockets.append((name, s))
time.sleep(wait)
table = subprocess.run(["ss", "-tnp", "state", "all", f"( sport = :{port} )"], capture_output=True, text=True).stdout
for name, s in sockets:
    ours = f":{s.getsockname()[1]}"
    lines = [line for line in table.splitlines() if ours in line]
    held = any("users:" in line for line in lines)
    print(f"{name}: after {wait:.0f} s the server's socket is", "still held by the relay" if held else "closed", lines)
