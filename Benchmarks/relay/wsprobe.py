#!/usr/bin/env python3
"""Loopback-only WebSocket probe for the relay review. Bounded in count and time."""
import os, socket, struct, sys, time, json, base64

HOST = "127.0.0.1"

def cpu_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    return (int(parts[11]) + int(parts[12])) / tck

def rss_of(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1])  # kB

class Refused(Exception):
    """The server closed the connection or answered the upgrade with another status."""

class WS:
    def __init__(self, port, path="/ws/room/new", timeout=10, headers="", rcvbuf=None):
        s = socket.socket()
        try:
            s.settimeout(timeout)
            if rcvbuf:  # before connecting, so the window the server sees is already small
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            s.connect((HOST, port))
            key = base64.b64encode(os.urandom(16)).decode()
            s.sendall((f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{headers}\r\n").encode())
            buf = b""
            while b"\r\n\r\n" not in buf:
                chunk = s.recv(4096)
                if not chunk: raise Refused("closed during handshake")
                buf += chunk
            head, rest = buf.split(b"\r\n\r\n", 1)
            if b" 101 " not in head.split(b"\r\n")[0]: raise Refused(head.split(b"\r\n")[0].decode())
        except (Refused, OSError):
            s.close()
            raise
        self.s = s
        self.buf = rest

    @staticmethod
    def frame(opcode, payload, fin=True, mask=b"\x00\x00\x00\x00"):
        b0 = (0x80 if fin else 0) | opcode
        n = len(payload)
        if n < 126: hdr = struct.pack("!BB", b0, 0x80 | n)
        elif n < 65536: hdr = struct.pack("!BBH", b0, 0x80 | 126, n)
        else: hdr = struct.pack("!BBQ", b0, 0x80 | 127, n)
        if mask == b"\x00\x00\x00\x00":
            return hdr + mask + payload
        masked = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        return hdr + mask + masked

    def send_text(self, text):
        data = text.encode() if isinstance(text, str) else text
        self.s.sendall(self.frame(1, data))

    def recv_frame(self, timeout=10):
        self.s.settimeout(timeout)
        while True:
            if len(self.buf) >= 2:
                b0, b1 = self.buf[0], self.buf[1]
                n = b1 & 0x7F; off = 2
                if n == 126:
                    if len(self.buf) < 4: n = None
                    else: n = struct.unpack("!H", self.buf[2:4])[0]; off = 4
                elif n == 127:
                    if len(self.buf) < 10: n = None
                    else: n = struct.unpack("!Q", self.buf[2:10])[0]; off = 10
                if n is not None and len(self.buf) >= off + n:
                    payload = self.buf[off:off + n]
                    self.buf = self.buf[off + n:]
                    return b0 & 0x0F, payload
            chunk = self.s.recv(1 << 20)
            if not chunk: raise EOFError("closed")
            self.buf += chunk

    def recv_json(self, timeout=10):
        while True:
            op, p = self.recv_frame(timeout)
            if op == 1: return json.loads(p)
            if op == 8: raise EOFError(f"close {p[:2].hex()}")

    def close(self):
        try: self.s.close()
        except Exception: pass
