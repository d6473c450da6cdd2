#!/usr/bin/env python3
"""The index on modes read from SQLite: insert rate, and the cost of a rank and a leaderboard of a
mode with 100,000 rows, with `(game_mode)` and with `(game_mode, score DESC)`. SQLite only, the
store's schema and batch size.

    python3 mode_index.py
"""
import sqlite3, time, random, os, sys
def run(index_sql, label):
    path = "/tmp/mode_index_bench.db"
    for s in ("", "-wal", "-shm"):
        try: os.remove(path + s)
        except FileNotFoundError: pass
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL"); db.execute("PRAGMA synchronous=NORMAL")
    db.execute("""CREATE TABLE scores (id INTEGER PRIMARY KEY AUTOINCREMENT, player_name TEXT NOT NULL, score INTEGER NOT NULL,
      coins INTEGER NOT NULL, enemies_defeated INTEGER NOT NULL, distance INTEGER NOT NULL, level INTEGER NOT NULL,
      game_mode TEXT NOT NULL, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)""")
    db.execute("CREATE INDEX idx_scores_player_score ON scores(player_name, score DESC)")
    db.execute(index_sql)
    random.seed(1)
    rows = []
    for i in range(300000):
        mode = "big" if i % 3 == 0 else ("m%d" % random.randrange(1000))
        rows.append(("p%d" % random.randrange(5000), random.randrange(1000000), 1, 2, 3, 4, mode, "2026-01-01 00:00:00"))
    t = time.time()
    for k in range(0, len(rows), 54):
        db.execute("BEGIN")
        db.executemany("INSERT INTO scores (player_name, score, coins, enemies_defeated, distance, level, game_mode, created_at) VALUES (?,?,?,?,?,?,?,?)", rows[k:k+54])
        db.execute("COMMIT")
    ins = len(rows) / (time.time() - t)
    def timeit(sql, args, n=20):
        t = time.time()
        for _ in range(n): db.execute(sql, args).fetchall()
        return (time.time() - t) / n * 1000
    r_low = timeit("SELECT COUNT(*) FROM scores WHERE game_mode = ? AND score > ?", ("big", -1))
    r_high = timeit("SELECT COUNT(*) FROM scores WHERE game_mode = ? AND score > ?", ("big", 990000))
    lb = timeit("SELECT * FROM scores WHERE game_mode = ? ORDER BY score DESC, id ASC LIMIT ?", ("big", 100))
    print("%-40s insert %6.0f rows/s  rank(low) %6.1f ms  rank(high) %6.2f ms  leaderboard %6.2f ms" % (label, ins, r_low, r_high, lb))
for _ in range(2):
    run("CREATE INDEX idx_scores_mode ON scores(game_mode)", "(game_mode)")
    run("CREATE INDEX idx_scores_mode ON scores(game_mode, score DESC)", "(game_mode, score DESC)")
