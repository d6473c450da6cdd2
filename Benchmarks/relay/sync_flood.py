# A host that fills its room to the entity caps (1,000 enemies and 1,000 coins of ~2 KB each) and
# then asks for a sync 20 times a second, beside a relay-bench run: what one such room costs the
# others. The room has no guest: the server writes each answer out all the same, and this side
# stays cheap (it reads only the host's own echoes and errors). Prints how many syncs were answered.
#   python3 Benchmarks/relay/sync_flood.py PORT ROOMS SECONDS
import base64, json, os, socket, sys, threading, time

port, rooms, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])


def connect(path):
    s = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    return s


def send(s, text):
    p = text.encode()
    n = len(p)
    length = bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
    s.sendall(bytes([0x81]) + length + b"\0\0\0\0" + p)  # masked with a zero key


def recv_text(s):
    head = s.recv(2, socket.MSG_WAITALL)
    n = head[1] & 127
    if n == 126:
        n = int.from_bytes(s.recv(2, socket.MSG_WAITALL), "big")
    elif n == 127:
        n = int.from_bytes(s.recv(8, socket.MSG_WAITALL), "big")
    return s.recv(n, socket.MSG_WAITALL).decode()


counts = {"rate_limited": 0}
lock = threading.Lock()


def read_all(s):
    try:
        while True:
            m = json.loads(recv_text(s))
            kind = "rate_limited" if m.get("code") == "rate_limited" else m["type"]
            if kind in counts:
                with lock:
                    counts[kind] += 1
    except Exception:
        pass


hosts = []
pad = "p" * 1800
for r in range(rooms):
    host = connect("/ws/room/new")
    send(host, json.dumps({"type": "create_room", "player_name": f"flood{r}"}))
    code = None
    while code is None:
        m = json.loads(recv_text(host))
        code = m["room_id"] if m["type"] == "room_created" else None
    threading.Thread(target=read_all, args=(host,), daemon=True).start()
    for i in range(1000):  # within the 4,000-message burst of the message budget
        send(host, json.dumps({"type": "enemy_spawn", "enemy": {"enemy_id": f"e{i}", "pad": pad}}))
        send(host, json.dumps({"type": "coin_spawn", "coin": {"coin_id": f"c{i}", "pad": pad}}))
    hosts.append(host)
time.sleep(1)
start, sent = time.time(), 0
while time.time() < start + seconds:
    for host in hosts:
        send(host, json.dumps({"type": "sync_entities", "enemies": [], "coins": []}))
        sent += 1
    time.sleep(1 / 20)
time.sleep(0.5)
print(f"sync flood: {rooms} rooms, {seconds:.0f} s: {sent} syncs sent, "
      f"{sent - counts['rate_limited']} answered, {counts['rate_limited']} rate_limited")
