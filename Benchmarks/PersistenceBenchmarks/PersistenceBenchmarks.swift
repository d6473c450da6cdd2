// Storage benchmarks for the `Persistence` module, through its public API only.
//
//   ENABLE_BENCHMARKS=1 swift package --scratch-path .build-bench benchmark --target PersistenceBenchmarks
//
// See BENCHMARKS.md at the repository root for the method, the targets and the figures.

import Benchmark
import CSystemSQLite
import Foundation
import Logging
import Persistence

// MARK: - Parameters

/// Concurrent submitters in the insert benchmark (like 64 HTTP connections).
private let submitters = 64
/// Scores each submitter sends per iteration, one after the other (each awaits its commit).
private let scoresPerSubmitter = 100
/// Inserts per iteration of the insert benchmark.
private let insertsPerIteration = submitters * scoresPerSubmitter  // 6,400

/// Size of the read benchmarks' database.
private let largeRowCount = 1_000_000
/// Distinct players in it (`player_0` … `player_4999`).
private let largePlayerCount = 5_000
/// Game modes in it; a query picks one of these or none (all modes).
private let gameModes = ["classic", "endless", "levels"]
/// Scores are uniform in 0…maxScore.
private let maxScore: Int64 = 1_000_000

/// Throughput of acknowledged (committed) inserts, computed per iteration.
private let insertsPerSecond = BenchmarkMetric.custom("inserts/s (acknowledged)", polarity: .prefersLarger)
/// Average rows per committed transaction in the iteration (how well group commit batches).
private let rowsPerCommit = BenchmarkMetric.custom("rows per commit", polarity: .prefersLarger)

// MARK: - Fixtures

private let logger: Logger = {
    var logger = Logger(label: "persistence-benchmarks")
    logger.logLevel = .warning
    return logger
}()

/// Holds what a benchmark's setup opened so its teardown can close it
/// (each benchmark runs in its own process, so one slot is enough).
private final class Fixture: @unchecked Sendable {
    private let lock = NSLock()
    private var store: SQLiteGameStore?
    private var directory: URL?

    func set(_ store: SQLiteGameStore, directory: URL?) {
        self.lock.withLock {
            self.store = store
            self.directory = directory
        }
    }

    func tearDown() async {
        let (store, directory) = self.lock.withLock { () -> (SQLiteGameStore?, URL?) in
            defer {
                self.store = nil
                self.directory = nil
            }
            return (self.store, self.directory)
        }
        await store?.close()
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }
}

private let fixture = Fixture()

private func makeTemporaryDirectory(_ prefix: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("\(prefix)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

private struct BenchmarkSetupError: Error, CustomStringConvertible {
    var description: String
}

/// Runs SQL on a raw sqlite3 handle (bulk data generation only; the store itself is used through its API).
private func exec(_ db: OpaquePointer, _ sql: String) throws {
    var message: UnsafeMutablePointer<CChar>?
    let rc = sqlite3_exec(db, sql, nil, nil, &message)
    guard rc == SQLITE_OK else {
        let text = message.map { String(cString: $0) } ?? "rc \(rc)"
        sqlite3_free(message)
        throw BenchmarkSetupError(description: "\(text) (while: \(sql.prefix(80)))")
    }
}

private func scalar(_ db: OpaquePointer, _ sql: String) throws -> Int64 {
    var statement: OpaquePointer?
    guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
        throw BenchmarkSetupError(description: "cannot prepare \(sql)")
    }
    defer { sqlite3_finalize(statement) }
    guard sqlite3_step(statement) == SQLITE_ROW else { return 0 }
    return sqlite3_column_int64(statement, 0)
}

/// Fills the `scores` table of the (migrated, closed) database at `path` with `largeRowCount` random rows.
private func generateRows(into path: String) throws {
    var handle: OpaquePointer?
    guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE, nil) == SQLITE_OK, let db = handle else {
        sqlite3_close_v2(handle)
        throw BenchmarkSetupError(description: "cannot open \(path)")
    }
    defer { sqlite3_close_v2(db) }
    try exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; PRAGMA cache_size = -262144")
    let modeCase = gameModes.enumerated().map { "WHEN \($0.offset) THEN '\($0.element)'" }.joined(separator: " ")
    try exec(
        db,
        """
        BEGIN;
        WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < \(largeRowCount))
        INSERT INTO scores (player_name, score, coins, enemies_defeated, distance, level, game_mode, created_at)
        SELECT
            'player_' || (abs(random()) % \(largePlayerCount)),
            abs(random()) % \(maxScore + 1),
            abs(random()) % 500,
            abs(random()) % 200,
            abs(random()) % 50000,
            1 + abs(random()) % 30,
            CASE abs(random()) % \(gameModes.count) \(modeCase) END,
            datetime(1735689600 + i * 30, 'unixepoch')
        FROM n;
        COMMIT;
        PRAGMA wal_checkpoint(TRUNCATE);
        ANALYZE;
        """
    )
    let rows = try scalar(db, "SELECT COUNT(*) FROM scores")
    guard rows == Int64(largeRowCount) else {
        throw BenchmarkSetupError(description: "built \(rows) rows, expected \(largeRowCount)")
    }
}

/// The 1M-row database, built once and reused by every read benchmark (each runs in its own
/// process) and by later runs: `$TMPDIR/persistence-bench-1m-v2/game.db` (`-v2`: built with schema
/// v3, without the two score indexes; the `-v1` file of earlier builds is left alone, as those
/// builds cannot open a v3 file).
///
/// Built by opening the store once (so the real schema and migrations create the file), closing
/// it, then generating the rows in one `INSERT … WITH RECURSIVE` transaction with the sqlite3 C
/// API; the store is then reopened by the caller, which loads its in-memory rank index and
/// leaderboards from the rows.
private func largeDatabasePath() async throws -> String {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("persistence-bench-1m-v2")
    let path = directory.appendingPathComponent("game.db").path
    if FileManager.default.fileExists(atPath: path) {
        var db: OpaquePointer?
        if sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK, let db {
            defer { sqlite3_close_v2(db) }
            if (try? scalar(db, "SELECT COUNT(*) FROM scores")) == Int64(largeRowCount) { return path }
        }
    }

    // Build next to the final place, then rename, so an interrupted build is never reused.
    let building = try makeTemporaryDirectory("persistence-bench-1m-building")
    let buildingPath = building.appendingPathComponent("game.db").path
    let started = ContinuousClock.now
    let schemaStore = try await SQLiteGameStore.open(
        PersistenceConfiguration(databasePath: buildingPath), logger: logger)
    await schemaStore.close()

    try generateRows(into: buildingPath)

    try? FileManager.default.removeItem(at: directory)
    try FileManager.default.moveItem(at: building, to: directory)
    let elapsed = started.duration(to: .now)
    FileHandle.standardError.write(Data("built \(largeRowCount)-row database at \(path) in \(elapsed)\n".utf8))
    return path
}

/// Opens the store on the 1M-row database (which loads the rank index and leaderboards from every row).
private func openLargeStore() async throws -> SQLiteGameStore {
    let path = try await largeDatabasePath()
    let store = try await SQLiteGameStore.open(PersistenceConfiguration(databasePath: path), logger: logger)
    fixture.set(store, directory: nil)  // shared file: kept for the next benchmark and run
    return store
}

private func randomMode() -> String? {
    // One query in four over all modes, the rest within one mode.
    let pick = Int.random(in: 0...gameModes.count)
    return pick == gameModes.count ? nil : gameModes[pick]
}

private func randomSubmission(_ submitter: Int, _ index: Int) -> ScoreSubmission {
    ScoreSubmission(
        playerName: "bench_\(submitter)_\(index % 10)",
        score: Int64.random(in: 0...maxScore),
        coins: Int64.random(in: 0...500),
        enemiesDefeated: Int64.random(in: 0...200),
        distance: Int64.random(in: 0...50_000),
        level: Int64.random(in: 1...30),
        gameMode: gameModes[index % gameModes.count]
    )
}

// MARK: - Insert benchmark

private var insertConfiguration: Benchmark.Configuration {
    .init(
        metrics: [.wallClock, .throughput, insertsPerSecond, rowsPerCommit],
        timeUnits: .milliseconds,
        warmupIterations: 2,
        maxDuration: .seconds(20),
        maxIterations: 100
    )
}

/// One iteration: `submitters` tasks each submit `scoresPerSubmitter` scores, one after the other.
@Sendable private func submitConcurrently(_ benchmark: Benchmark, _ store: SQLiteGameStore) async {
    let transactionsBefore = store.committedTransactions
    let started = ContinuousClock.now
    benchmark.startMeasurement()
    do {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for submitter in 0..<submitters {
                group.addTask {
                    for index in 0..<scoresPerSubmitter {
                        blackHole(try await store.submit(randomSubmission(submitter, index)))
                    }
                }
            }
            try await group.waitForAll()
        }
    } catch {
        benchmark.error("submit failed: \(error)")
    }
    benchmark.stopMeasurement()
    let elapsed = started.duration(to: .now)
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    benchmark.measurement(insertsPerSecond, Int((Double(insertsPerIteration) / seconds).rounded()))
    let transactions = max(1, store.committedTransactions - transactionsBefore)
    benchmark.measurement(rowsPerCommit, insertsPerIteration / transactions)
}

/// A store on a new temp database: empty, or a copy of the 1M-row one.
private func openInsertStore(seededWithLargeDatabase: Bool) async throws -> SQLiteGameStore {
    let directory = try makeTemporaryDirectory("persistence-bench-inserts")
    let path = directory.appendingPathComponent("game.db").path
    if seededWithLargeDatabase {
        let source = try await largeDatabasePath()
        for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: source + suffix) {
            try FileManager.default.copyItem(atPath: source + suffix, toPath: path + suffix)
        }
    }
    let store = try await SQLiteGameStore.open(PersistenceConfiguration(databasePath: path), logger: logger)
    fixture.set(store, directory: directory)
    return store
}

// MARK: - Benchmarks

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput],
        timeUnits: .microseconds,
        warmupIterations: 100,
        maxDuration: .seconds(10),
        maxIterations: 20_000
    )

    // a. Group-commit throughput: 64 tasks each submit 100 scores in turn (awaiting each commit),
    //    6,400 acknowledged inserts per iteration, with the store's default settings (batch size 256,
    //    window 0, synchronous FULL since session 76, NORMAL before). The database grows across iterations (~6,400 rows each).
    //    Once into an empty database, and once into a copy of the 1M-row one (a mature leaderboard).
    Benchmark(
        "Score inserts, 64 concurrent submitters",
        configuration: insertConfiguration,
        closure: submitConcurrently,
        setup: { try await openInsertStore(seededWithLargeDatabase: false) },
        teardown: { await fixture.tearDown() }
    )

    Benchmark(
        "Score inserts at 1M rows, 64 concurrent submitters",
        configuration: insertConfiguration,
        closure: submitConcurrently,
        setup: { try await openInsertStore(seededWithLargeDatabase: true) },
        teardown: { await fixture.tearDown() }
    )

    // b. Reads at 1M rows: one query per iteration with random arguments.
    Benchmark(
        "Leaderboard top-10 at 1M rows",
        closure: { (benchmark: Benchmark, store: SQLiteGameStore) async in
            do {
                blackHole(try await store.leaderboard(limit: 10, gameMode: randomMode()))
            } catch {
                benchmark.error("leaderboard failed: \(error)")
            }
        },
        setup: openLargeStore,
        teardown: { await fixture.tearDown() }
    )

    Benchmark(
        "Rank at 1M rows",
        closure: { (benchmark: Benchmark, store: SQLiteGameStore) async in
            do {
                blackHole(try await store.rank(of: Int64.random(in: 0...maxScore), gameMode: randomMode()))
            } catch {
                benchmark.error("rank failed: \(error)")
            }
        },
        setup: openLargeStore,
        teardown: { await fixture.tearDown() }
    )

    Benchmark(
        "Personal best at 1M rows",
        closure: { (benchmark: Benchmark, store: SQLiteGameStore) async in
            do {
                let player = "player_\(Int.random(in: 0..<largePlayerCount))"
                blackHole(try await store.personalBest(playerName: player))
            } catch {
                benchmark.error("personalBest failed: \(error)")
            }
        },
        setup: openLargeStore,
        teardown: { await fixture.tearDown() }
    )

    // c. Start-up at 1M rows: `SQLiteGameStore.open` (migrations, reader connections and the
    //    in-memory indexes loaded from every row) on the shared 1M-row database. Only the open is
    //    timed; each iteration closes the store again outside the measurement.
    Benchmark(
        "Open the store at 1M rows",
        configuration: .init(
            metrics: [.wallClock], timeUnits: .milliseconds, warmupIterations: 1,
            maxDuration: .seconds(30), maxIterations: 10
        ),
        closure: { (benchmark: Benchmark, path: String) async in
            benchmark.startMeasurement()
            do {
                let store = try await SQLiteGameStore.open(PersistenceConfiguration(databasePath: path), logger: logger)
                benchmark.stopMeasurement()
                await store.close()
            } catch {
                benchmark.stopMeasurement()
                benchmark.error("open failed: \(error)")
            }
        },
        setup: { try await largeDatabasePath() }
    )
}
