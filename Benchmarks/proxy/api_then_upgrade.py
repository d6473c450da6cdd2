"""An API request, then a WebSocket handshake, `rounds` times, each on a connection of its own
to `port` (a proxy); prints how many answers had each status line."""
import collections
import socket
import sys


def status_line(port, request):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(request)
        answer = b""
        while b"\r\n" not in answer:
            chunk = connection.recv(4096)
            if not chunk:
                break
            answer += chunk
        return answer.split(b"\r\n")[0].decode() or "(closed unanswered)"


API = b"GET /api/rooms HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
UPGRADE = (b"GET /ws/room/new HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")

port, rounds = int(sys.argv[1]), int(sys.argv[2])
counts = collections.Counter()
for _ in range(rounds):
    counts[status_line(port, API)] += 1
    counts[status_line(port, UPGRADE)] += 1
for line, count in sorted(counts.items()):
    print(f"{count:4d}  {line}")
