#!/usr/bin/env python3
"""Latency of one client's GETs while another address floods the server (BENCHMARKS.md).

Connects from SOURCE (a loopback address of its own, default 127.0.0.3) to 127.0.0.1:PORT on
one kept-alive connection and sends `GET PATH` every INTERVAL seconds for DURATION seconds,
after WARMUP seconds, timing each answer. Prints count, p50, p99 and max in milliseconds.

    PORT=8099 DURATION=15 python3 Benchmarks/http/other_address_probe.py
"""
import os
import socket
import time

PORT = int(os.environ.get("PORT", "8099"))
SOURCE = os.environ.get("SOURCE", "127.0.0.3")
PATH = os.environ.get("PROBE_PATH", "/api/scores/leaderboard?limit=10")
INTERVAL = float(os.environ.get("INTERVAL", "0.05"))
DURATION = float(os.environ.get("DURATION", "15"))
WARMUP = float(os.environ.get("WARMUP", "2"))
API_KEY = os.environ.get("API_KEY", "k")


def read_answer(sock, pending):
    """Reads one answer with a Content-Length body; returns the bytes left after it."""
    while b"\r\n\r\n" not in pending:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        pending += chunk
    head, rest = pending.split(b"\r\n\r\n", 1)
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(head.split(b"\r\n")[0].decode())
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        rest += chunk
    return rest[length:]


def main():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(30)
    sock.bind((SOURCE, 0))
    sock.connect(("127.0.0.1", PORT))
    request = f"GET {PATH} HTTP/1.1\r\nHost: x\r\nX-API-Key: {API_KEY}\r\n\r\n".encode()
    time.sleep(WARMUP)
    latencies = []
    pending = b""
    start = time.monotonic()
    due = start
    while due - start < DURATION:
        time.sleep(max(0.0, due - time.monotonic()))
        sent = time.monotonic()
        sock.sendall(request)
        pending = read_answer(sock, pending)
        latencies.append((time.monotonic() - sent) * 1000)
        due += INTERVAL
    latencies.sort()

    def at(q):
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))]

    print(f"probe from {SOURCE}: {len(latencies)} GETs, p50 {at(0.5):.2f} ms, p99 {at(0.99):.2f} ms, "
          f"max {latencies[-1]:.2f} ms")


if __name__ == "__main__":
    main()
