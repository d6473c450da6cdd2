#!/usr/bin/env python3
"""Scores in made-up game modes: what each costs the server's memory, and how fast modes are answered.

    python3 mode_spam.py PORT PID API_KEY COUNT

Posts COUNT scores over one keep-alive connection, each in a new `game_mode` (`m0`, `m1`, …),
and prints the server's RSS (from /proc/PID/status) before and after, then the wall time of
rank and leaderboard requests for the first mode and the last one. Loopback only.
"""
import http.client, json, sys, time

port, pid, key, count = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])


def rss_kib():
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


connection = http.client.HTTPConnection("127.0.0.1", port)
headers = {"X-API-Key": key, "Content-Type": "application/json"}


def request(method, path, body=None):
    connection.request(method, path, body=body, headers=headers)
    answer = connection.getresponse()
    data = answer.read()
    if answer.status != 200:
        sys.exit(f"{method} {path}: {answer.status} {data[:200]!r}")
    return data


before = rss_kib()
started = time.perf_counter()
for n in range(count):
    body = {"player_name": f"spammer{n % 100}", "score": n, "coins": 1, "enemies_defeated": 2, "distance": 3,
            "level": 4, "game_mode": f"m{n}"}
    request("POST", "/api/scores", json.dumps(body))
elapsed = time.perf_counter() - started
after = rss_kib()
print(f"posted {count} scores in new modes in {elapsed:.1f} s ({count / elapsed:,.0f}/s)")
print(f"rss before {before / 1024:.1f} MiB, after {after / 1024:.1f} MiB: {(after - before) * 1024 / count:.0f} bytes per score")
for mode in ("m0", f"m{count - 1}"):
    for path in (f"/api/scores/rank/5?game_mode={mode}", f"/api/scores/leaderboard?limit=100&game_mode={mode}"):
        times = []
        for _ in range(50):
            t = time.perf_counter()
            request("GET", path)
            times.append((time.perf_counter() - t) * 1e3)
        times.sort()
        print(f"{path:50s} p50 {times[25]:.2f} ms, max {times[-1]:.2f} ms")
