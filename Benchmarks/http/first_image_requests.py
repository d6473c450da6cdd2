"""Twenty-one first requests for one boss image at once, none read: the server's RSS.

    python3 Benchmarks/http/first_image_requests.py PORT PID [INDEX]

Start the relay with an 8 MB boss_03.png in its --boss-images-dir and nothing else asked of it;
PID is the relay's. Every request is sent before any answer is read, and none is read: what each
first request holds (its own read of the file, or a share of one) shows in the RSS 2 s later.
"""
import socket
import sys
import time

port, pid = int(sys.argv[1]), int(sys.argv[2])
index = int(sys.argv[3]) if len(sys.argv) > 3 else 3
request = f"GET /api/bosses/images/{index} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
connections = []
for _ in range(21):
    connection = socket.create_connection(("127.0.0.1", port))
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    connections.append(connection)
for connection in connections:
    connection.sendall(request)
time.sleep(2)
with open(f"/proc/{pid}/status") as status:
    rss = next(line for line in status if line.startswith("VmRSS")).split()[1]
print(f"RSS {int(rss) // 1024} MiB with 21 first requests unread")
