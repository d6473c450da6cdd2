#!/usr/bin/env python3
# One client that opens connections in a loop for SECONDS, one at a time: each upgrades to a room
# socket, creates a room, and hangs up. With FORWARDED_FOR set, each upgrade carries
# `X-Forwarded-For: FORWARDED_FOR`, so a server that trusts loopback as its proxy (the default)
# counts them as that client's. Prints connections served and refused, and the server's CPU.
#   python3 Benchmarks/relay/connection_churn.py PORT SERVER_PID SECONDS [FORWARDED_FOR]
import base64, os, socket, sys, time
sys.path.insert(0, os.path.dirname(__file__))
from wsprobe import WS, cpu_of

port, pid, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
forwarded = f"X-Forwarded-For: {sys.argv[4]}\r\n" if len(sys.argv) > 4 else ""
create = WS.frame(1, b'{"type":"create_room","player_name":"Churn"}')

def one_connection():
    """True when the server upgraded the connection and answered; False when it refused it."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall((f"GET /ws/room/new HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{forwarded}\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = s.recv(4096)
            if not chunk:
                return False  # closed unanswered
            answer += chunk
        if b" 101 " not in answer.split(b"\r\n")[0]:
            return False  # 429
        s.sendall(create)
        while answer.count(b"room_created") == 0:
            chunk = s.recv(4096)
            if not chunk:
                return False
            answer += chunk
        return True
    except ConnectionResetError:
        return False
    finally:
        s.close()

served = refused = 0
start, cpu = time.time(), cpu_of(pid)
while time.time() - start < seconds:
    if one_connection():
        served += 1
    else:
        refused += 1
elapsed = time.time() - start
print(f"connection_churn: {served} served, {refused} refused in {elapsed:.1f} s; "
      f"server CPU {cpu_of(pid) - cpu:.2f} s ({1000 * (cpu_of(pid) - cpu) / max(1, served + refused):.3f} ms each)")
