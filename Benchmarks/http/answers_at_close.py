# Whether a boss image arrives whole when its connection is closed right behind it: after a late
# WebSocket upgrade, after a late `Upgrade: h2c` request, after the client half-closes, and at a
# SIGTERM while it downloads (this one stops the server; give its pid).
#   python3 Benchmarks/http/answers_at_close.py PORT INDEX [SERVER_PID]
# The server needs BOSS_IMAGES_DIR with boss_INDEX.png, a few MB (e.g. `head -c 8000000 /dev/zero`).
# A 64 KB receive buffer keeps most of the image queued in the server when the close comes.
# Prints, per case, the image bytes received and the Content-Length. Loopback only, one connection
# at a time, each bounded to 10 s of silence.
import os, signal, socket, sys, time

port, index = int(sys.argv[1]), int(sys.argv[2])
server_pid = int(sys.argv[3]) if len(sys.argv) > 3 else None
image = f"GET /api/bosses/images/{index} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
upgrade = ("GET /ws/room/new HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
h2c = "Upgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"


def exchange(request, half_close=False, on_bytes=None):
    """Sends `request`, reads until the server closes; `on_bytes(total)` after each read may pace it."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    s.connect(("127.0.0.1", port))
    s.sendall(request.encode())
    if half_close:
        s.shutdown(socket.SHUT_WR)
    s.settimeout(10)
    data = b""
    try:
        while True:
            part = s.recv(1 << 16)
            if not part:
                break
            data += part
            if on_bytes:
                on_bytes(len(data))
    except OSError as error:
        print(f"  ({type(error).__name__} after {len(data)} bytes)")
    s.close()
    return data


def report(case, data):
    """The last image answer in `data`: its body's bytes against its Content-Length."""
    start = data.rfind(b"Content-Type: image/png")
    head_end = data.find(b"\r\n\r\n", start)
    length = [line for line in data[:head_end].split(b"\r\n") if line.lower().startswith(b"content-length")][-1:]
    body = len(data) - head_end - 4 if start >= 0 and head_end >= 0 else 0
    print(f"{case}: {body:,} image bytes, {length[0].decode() if length else 'no Content-Length'}")


report("image, then a late WebSocket upgrade", exchange(image + "\r\n" + upgrade))
report("GET /, then the image with Upgrade: h2c", exchange("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + image + h2c + "\r\n"))
report("image, then the client half-closes", exchange(image + "\r\n", half_close=True))
if server_pid:
    state = {"signalled": None}

    def pace(total):  # ~6 MB/s; SIGTERM once 1 MB has come
        if total > 1_000_000 and not state["signalled"]:
            os.kill(server_pid, signal.SIGTERM)
            state["signalled"] = time.monotonic()
        time.sleep(0.01)

    data = exchange(image + "\r\n", on_bytes=pace)
    report("SIGTERM once 1 MB has arrived", data)
    if state["signalled"]:
        print(f"  closed {time.monotonic() - state['signalled']:.1f} s after the signal")
