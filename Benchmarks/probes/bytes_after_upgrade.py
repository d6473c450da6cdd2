#!/usr/bin/env python3
"""What a relay keeps of bytes sent after a request NIO's parser stops at (BENCHMARKS.md, session
49): a first request asking for `h2c`, which the server answers as a plain request, then MIB
mebibytes of zeros, and the server's resident memory before and after (from /proc).

    python3 Benchmarks/probes/bytes_after_upgrade.py PORT SERVER_PID [MIB]   (MIB: 300 by default)
"""
import socket
import sys
import time

port, pid = int(sys.argv[1]), sys.argv[2]
mebibytes = int(sys.argv[3]) if len(sys.argv) > 3 else 300


def resident_mib():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024


s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"GET /api/rooms HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n")
time.sleep(0.3)
print("answer:", s.recv(4096).split(b"\r\n")[0].decode())
before = resident_mib()
chunk = b"\0" * (1 << 20)
start = time.time()
sent = 0
try:
    for _ in range(mebibytes):
        s.sendall(chunk)
        sent += 1
except OSError as error:
    print(f"the server closed the connection after {sent} MiB: {error}")
time.sleep(0.5)
print(f"RSS {before} MiB before, {resident_mib()} MiB after; {sent} MiB sent in {time.time() - start:.1f} s")
