#!/usr/bin/env python3
"""Whether a server survives batches of writes that fail on another process's lock. Loopback only.

    Benchmarks/sqlite/locked_batch.py RELAY_BINARY [ROUNDS [WRITES]]

Starts RELAY_BINARY (port 8263, a fresh data folder) under glibc settings that make a use of freed
memory crash at once (`MALLOC_PERTURB_`, no tcache), then each round holds `BEGIN EXCLUSIVE` on its
`game.db` from this process while WRITES (default 12) scores are posted at once: the first batch
waits out the 5 s lock timeout, the rest queue into a second batch that fails `locked` too. Each
write must get 503, and the server must live on. A release build before 3f0a8db over-released the
batch's error once per write and crashed here every time.
"""
import collections, http.client, json, os, sqlite3, subprocess, sys, tempfile, threading, time


def post_score(name):
    connection = http.client.HTTPConnection("127.0.0.1", 8263, timeout=30)
    body = json.dumps({"player_name": name, "score": 1, "coins": 0, "enemies_defeated": 0, "distance": 0,
                       "level": 1, "game_mode": "endless"})
    try:
        connection.request("POST", "/api/scores", body, {"X-API-Key": "k", "Content-Type": "application/json"})
        return connection.getresponse().status
    except OSError as error:
        return type(error).__name__
    finally:
        connection.close()


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)  # prints the usage at its top, exit status 1
    relay = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    writes = int(sys.argv[3]) if len(sys.argv) > 3 else 12
    folder = tempfile.mkdtemp(prefix="locked-batch-")
    environment = dict(os.environ, API_KEY="k", MALLOC_PERTURB_="170", GLIBC_TUNABLES="glibc.malloc.tcache_count=0")
    server = subprocess.Popen([relay, "--port", "8263", "--data-dir", folder], env=environment,
                              stdout=subprocess.DEVNULL, stderr=open(f"{folder}/server.log", "w"))
    try:
        deadline = time.monotonic() + 30
        while post_score("warm-up") != 200 and time.monotonic() < deadline:
            time.sleep(0.1)
        for number in range(1, rounds + 1):
            holder = sqlite3.connect(f"{folder}/game.db", isolation_level=None, timeout=0)
            holder.execute("BEGIN EXCLUSIVE")
            results = []
            threads = [threading.Thread(target=lambda i=i: results.append(post_score(f"r{number}w{i}")))
                       for i in range(writes)]
            threads[0].start()
            time.sleep(0.3)  # the first write's batch now waits on the lock; the others queue behind it
            for thread in threads[1:]:
                thread.start()
            for thread in threads:
                thread.join()
            holder.execute("ROLLBACK")
            holder.close()
            alive = server.poll() is None
            print(f"round {number}: {dict(collections.Counter(results))}; server {'alive' if alive else 'DEAD'}",
                  flush=True)
            if not alive:
                with open(f"{folder}/server.log") as log:
                    print(next((line.strip() for line in log if "crashed" in line), "(no crash line)"))
                break
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
