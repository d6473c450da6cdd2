#!/usr/bin/env python3
"""A plugin slower than its requests: how many it answers in time. Loopback only, bounded in time.

    Benchmarks/plugins/overload.py RELAY_BINARY [SERVICE_MS [SECONDS [RATE ...]]]
    CONCURRENT=1 STALL_MS=400 Benchmarks/plugins/overload.py …

Starts RELAY_BINARY (port 8263, a fresh data folder, the default 100 ms plugin timeout) with one
plugin that answers each `work` after SERVICE_MS (default 5: 200 a second) in the order they came.
With CONCURRENT=1 it answers each in a thread of its own instead (SERVICE_MS after reading it, so
as many at once as it is sent), and with STALL_MS it stops answering for that long every 3 s (a
pause: the late answers shrink the server's window). For each offered RATE in turn (default 150
220 300 150 requests a second), 20 connections send a `work` at RATE / 20 a second each for
SECONDS (default 8), waiting for each answer (or its `plugin_timeout`) before the next, and it
prints what came back per second. A plugin that fell behind used to read only requests that had
timed out (BENCHMARKS.md, session 50).
"""
import collections, json, os, random, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "relay"))
from wsprobe import WS  # noqa: E402

PLUGIN = """#!/usr/bin/env python3
import json, sys, threading, time
SERVICE, CONCURRENT, STALL = %f, %r, %f
output = threading.Lock()
next_stall = [time.time() + 3]
print(json.dumps({"kind": "hello", "protocol": 1, "name": "overload", "handles": ["work"]}), flush=True)

def answer(request):
    time.sleep(SERVICE)
    with output:
        if STALL and time.time() > next_stall[0]:
            time.sleep(STALL)
            next_stall[0] = time.time() + 3
        sys.stdout.write(json.dumps({"kind": "answer", "id": request["id"],
                                     "actions": [{"send": "sender", "message": {"type": "done"}}]}) + "\\n")
        sys.stdout.flush()

for line in sys.stdin:
    if CONCURRENT:
        threading.Thread(target=answer, args=(json.loads(line),)).start()
    else:
        answer(json.loads(line))
"""
PORT = 8263
CLIENTS = 20


def load(rate, seconds):
    counts = collections.Counter()
    lock = threading.Lock()

    def client():
        ws = WS(PORT)
        end = time.time() + seconds
        time.sleep(random.uniform(0, CLIENTS / rate))  # out of step with the others
        while time.time() < end:
            started = time.time()
            ws.send_text('{"type":"work"}')
            try:
                reply = ws.recv_json(timeout=5)
                kind = reply.get("code") or reply["type"]
            except Exception as error:  # a silent or closed socket
                kind = type(error).__name__
            with lock:
                counts[kind] += 1
            time.sleep(max(0, CLIENTS / rate - (time.time() - started)))
        ws.close()

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return ", ".join(f"{kind} {count / seconds:.0f}/s" for kind, count in counts.most_common())


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)  # prints the usage at its top, exit status 1
    relay = sys.argv[1]
    service = float(sys.argv[2]) / 1000 if len(sys.argv) > 2 else 0.005
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 8
    rates = [float(rate) for rate in sys.argv[4:]] or [150, 220, 300, 150]
    folder = tempfile.mkdtemp(prefix="plugin-overload-")
    os.makedirs(f"{folder}/plugins")
    with open(f"{folder}/plugins/overload.py", "w") as f:
        f.write(PLUGIN % (service, os.environ.get("CONCURRENT") == "1", float(os.environ.get("STALL_MS", 0)) / 1000))
    os.chmod(f"{folder}/plugins/overload.py", 0o755)
    server = subprocess.Popen([relay, "--port", str(PORT), "--data-dir", f"{folder}/data",
                               "--plugins-dir", f"{folder}/plugins"],
                              stdout=subprocess.DEVNULL, stderr=open(f"{folder}/server.log", "w"))
    try:
        for _ in range(100):
            try:
                WS(PORT).close()
                break
            except OSError:
                time.sleep(0.1)
        for rate in rates:
            print(f"offered {rate:.0f}/s: {load(rate, seconds)}", flush=True)
        with open(f"{folder}/server.log") as log:
            kills = sum("plugin.hung" in line for line in log)
        print(f"killed as hung: {kills}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
