#!/usr/bin/env python3
"""A burst of requests to a plugin that answers one at a time: what the senders get, and whether
the plugin survives it. Loopback only, bounded in time.

    Benchmarks/plugins/burst.py RELAY_BINARY [CLIENTS [SERVICE_MS [ROUNDS]]]

Starts RELAY_BINARY (port 8262, a fresh data folder, the default 100 ms plugin timeout) with one
plugin that answers each `work` after SERVICE_MS (default 25) in the order they came, and puts its
pid in the answer. Each round, CLIENTS (default 10) connections send one `work` at the same moment;
then, a second later, one more `work` shows which process answers. It prints the outcomes of each
round, and how many plugin processes answered in all (1: never restarted).
"""
import collections, json, os, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "relay"))
from wsprobe import WS  # noqa: E402

PLUGIN = """#!/usr/bin/env python3
import json, os, sys, time
print(json.dumps({"kind": "hello", "protocol": 1, "name": "burst", "handles": ["work"]}), flush=True)
for line in sys.stdin:
    request = json.loads(line)
    time.sleep(%f)
    answer = {"type": "done", "pid": os.getpid()}
    print(json.dumps({"kind": "answer", "id": request["id"], "actions": [{"send": "sender", "message": answer}]}),
          flush=True)
"""


def outcome(ws):
    message = ws.recv_json(timeout=5)
    return message.get("code") or message["type"], message.get("pid")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)  # prints the usage at its top, exit status 1
    relay = sys.argv[1]
    clients = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    service = float(sys.argv[3]) / 1000 if len(sys.argv) > 3 else 0.025
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    folder = tempfile.mkdtemp(prefix="plugin-burst-")
    os.makedirs(f"{folder}/plugins")
    with open(f"{folder}/plugins/burst.py", "w") as f:
        f.write(PLUGIN % service)
    os.chmod(f"{folder}/plugins/burst.py", 0o755)
    server = subprocess.Popen([relay, "--port", "8262", "--data-dir", f"{folder}/data",
                               "--plugins-dir", f"{folder}/plugins"],
                              stdout=subprocess.DEVNULL, stderr=open(f"{folder}/server.log", "w"))
    try:
        for _ in range(100):
            try:
                WS(8262).close()
                break
            except OSError:
                time.sleep(0.1)
        pids = set()
        for number in range(1, rounds + 1):
            sockets = [WS(8262) for _ in range(clients)]
            frame = WS.frame(1, b'{"type":"work"}')
            for ws in sockets:  # as close together as one thread can
                ws.s.sendall(frame)
            results = [outcome(ws) for ws in sockets]
            time.sleep(1)
            sockets[0].send_text('{"type":"work"}')
            after = outcome(sockets[0])
            pids |= {pid for _, pid in results + [after] if pid}
            counts = collections.Counter(kind for kind, _ in results)
            print(f"round {number}: {dict(counts)}; a second later: {after[0]} from pid {after[1]}", flush=True)
            for ws in sockets:
                ws.close()
        with open(f"{folder}/server.log") as log:
            kills = sum("plugin.hung" in line for line in log)
        print(f"plugin processes that answered: {len(pids)}; killed as hung: {kills}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
