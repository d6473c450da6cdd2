# Slow consumers beside a relay-bench run: N rooms, each with a sender of player_state at 30 Hz
# (2 KB of padding; it reads and discards) and a room-mate that never reads (SO_RCVBUF 4 KB).
#   python3 Benchmarks/relay/slow_clients.py PORT ROOMS SECONDS
import socket, sys, time, os, json, threading, base64
port, n, secs = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
def connect(path, rcvbuf=None):
    s = socket.socket()
    if rcvbuf: s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf: buf += s.recv(1)
    return s
def send(s, text):
    p = text.encode(); h = bytes([0x81]) + (bytes([0x80 | len(p)]) if len(p) < 126 else bytes([0x80 | 126, len(p) >> 8, len(p) & 255])) + b"\0\0\0\0"
    s.sendall(h + p)
def recv_text(s):
    h = s.recv(2, socket.MSG_WAITALL); ln = h[1] & 127
    if ln == 126: ln = int.from_bytes(s.recv(2, socket.MSG_WAITALL), "big")
    return s.recv(ln, socket.MSG_WAITALL).decode()
senders, sleepers = [], []
for i in range(n):
    a = connect("/ws/room/new"); send(a, json.dumps({"type": "create_room", "player_name": f"s{i}"}))
    code = None
    while code is None:
        m = json.loads(recv_text(a))
        if m["type"] == "room_created": code = m["room_id"]
    b = connect(f"/ws/room/{code}", rcvbuf=4096); send(b, json.dumps({"type": "join_room", "player_name": f"z{i}"}))
    senders.append(a); sleepers.append(b)
def drain(s):
    s.settimeout(0.5)
    try:
        while s.recv(65536): pass
    except Exception: pass
for a in senders: threading.Thread(target=drain, args=(a,), daemon=True).start()
end = time.time() + secs; k = 0
pad = "p" * 2000
while time.time() < end:
    k += 1
    for a in senders:
        try: send(a, json.dumps({"type": "player_state", "state": {"x": k, "y": 1.5, "pad": pad}}))
        except Exception: pass
    time.sleep(1 / 30)
print("slow harness done", k, "rounds")
