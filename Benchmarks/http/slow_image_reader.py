# A client that asks for a boss image and reads its answer slowly: how long the server keeps the
# connection (and its share of the image) before closing it, and how much it sent by then.
#   python3 Benchmarks/http/slow_image_reader.py PORT INDEX BYTES_PER_READ SECONDS_BETWEEN_READS [GIVE_UP_SECONDS] [MSS] [RCVBUF]
# e.g. 2 KB a second: `... 8000 3 2048 1`; 64 KB every 25 s: `... 8000 3 65536 25`; a fast reader: `... 8000 3 1048576 0`.
# The receive buffer is 4 KB (RCVBUF 0: the system's), so the server's writes wait on the reads
# instead of on a roomy kernel buffer, and the segment size 1,400 bytes as on the internet (MSS 0:
# loopback's 64 KB, with which the server's kernel may take megabytes of an answer at once).
# Prints a line every 10 s, then: closed by whom, after how long, how many bytes.
import socket, sys, time

port, index, chunk, pause = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
give_up = float(sys.argv[5]) if len(sys.argv) > 5 else 3600
mss = int(sys.argv[6]) if len(sys.argv) > 6 else 1400
rcvbuf = int(sys.argv[7]) if len(sys.argv) > 7 else 4096
s = socket.socket()
if rcvbuf:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
if mss:  # announced in the SYN: the server then sends segments of an internet path's size
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, mss)
s.connect(("127.0.0.1", port))
s.sendall(f"GET /api/bosses/images/{index} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
start = time.monotonic()
received, head, expected, report = 0, b"", None, start + 10
closed_by, reset = "client (gave up)", False
while time.monotonic() - start < give_up:
    data = b""
    try:  # one burst: `chunk` bytes (the small receive buffer hands them over a few KB at a time)
        while len(data) < chunk:
            part = s.recv(chunk - len(data))
            if not part:
                break
            data += part
            if expected is not None and received + len(data) >= expected > 0:
                break
    except ConnectionResetError:
        reset = True
    if not data:
        closed_by = "server (reset)" if reset else "server"
        break
    received += len(data)
    if expected is None:
        head += data
        if b"\r\n\r\n" in head:
            header, _ = head.split(b"\r\n\r\n", 1)
            length = [l for l in header.split(b"\r\n") if l.lower().startswith(b"content-length:")]
            expected = len(header) + 4 + int(length[0].split(b":")[1]) if length else -1
    if expected is not None and received >= expected > 0:
        closed_by = "nobody: the whole answer came"
        break
    now = time.monotonic()
    if now >= report:
        print(f"{now - start:7.1f} s  {received:>9} bytes  {received / (now - start) / 1024:7.1f} KiB/s", flush=True)
        report += 10
    if pause:
        time.sleep(pause)
elapsed = time.monotonic() - start
print(f"closed by {closed_by} after {elapsed:.1f} s, {received} of {expected} bytes ({received / elapsed / 1024:.1f} KiB/s)")
