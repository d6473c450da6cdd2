#!/usr/bin/env python3
"""SQLite-only replica of the store's insert workload, without any Swift (see BENCHMARKS.md).

Same `scores` table and indexes as Sources/Persistence/Schema/Migrations.swift, WAL and
synchronous=NORMAL as BatchingWriter sets them, transactions of BATCH rows (54 is what the store
commits with 64 concurrent submitters), random scores/players/modes. Prints rows/s overall and per
50k rows, for SQLite's defaults and for a few settings the store does not set.

    taskset -c 1 python3 Benchmarks/sqlite/insert_replica.py [ROWS] [BATCH]

Uses Python's sqlite3 module (check that `sqlite3.sqlite_version` matches the system library's).
Writes only to a temp folder, which it removes.
"""
import os, random, shutil, sqlite3, sys, tempfile, time

SCHEMA = """
CREATE TABLE scores (id INTEGER PRIMARY KEY AUTOINCREMENT, player_name TEXT NOT NULL, score INTEGER NOT NULL,
 coins INTEGER NOT NULL, enemies_defeated INTEGER NOT NULL, distance INTEGER NOT NULL, level INTEGER NOT NULL,
 game_mode TEXT NOT NULL, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
CREATE INDEX idx_score_desc ON scores(score DESC);
CREATE INDEX idx_scores_mode_score ON scores(game_mode, score DESC);
CREATE INDEX idx_scores_player_score ON scores(player_name, score DESC);
"""
MODES = ["classic", "endless", "levels"]


def run(label, pragmas, rows, batch):
    folder = tempfile.mkdtemp(prefix="insert-replica-")
    try:
        db = sqlite3.connect(os.path.join(folder, "game.db"), isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        for pragma in pragmas:
            db.execute(pragma)
        db.executescript(SCHEMA)
        started = time.perf_counter()
        marks, n = [], 0
        while n < rows:
            db.execute("BEGIN IMMEDIATE")
            for _ in range(batch):
                db.execute(
                    "INSERT INTO scores (player_name, score, coins, enemies_defeated, distance, level, game_mode,"
                    " created_at) VALUES (?,?,?,?,?,?,?,?)",
                    (f"bench_{random.randrange(640)}", random.randint(0, 1_000_000), 1, 2, 3, 4, MODES[n % 3],
                     "2026-11-29 17:00:00"))
                n += 1
            db.execute("COMMIT")
            if n % 50_000 < batch:
                marks.append((n, time.perf_counter() - started))
        total = time.perf_counter() - started
        db.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    previous, rates = (0, 0.0), []
    for mark in marks:
        rates.append(f"{mark[0] // 1000}k:{(mark[0] - previous[0]) / (mark[1] - previous[1]):,.0f}/s")
        previous = mark
    print(f"{label:48s} overall {rows / total:9,.0f} rows/s   {' '.join(rates)}", flush=True)


if __name__ == "__main__":
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 54
    print(f"SQLite {sqlite3.sqlite_version}, {rows:,} rows, {batch} rows per transaction")
    run("defaults (what the store runs with)", [], rows, batch)
    run("cache_size=-65536 (64 MB)", ["PRAGMA cache_size=-65536"], rows, batch)
    run("cache 64 MB + wal_autocheckpoint=10000", ["PRAGMA cache_size=-65536", "PRAGMA wal_autocheckpoint=10000"],
        rows, batch)
