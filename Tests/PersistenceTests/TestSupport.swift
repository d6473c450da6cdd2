import CSystemSQLite
import Foundation
import Logging
import RecordedLogs
import Synchronization

@testable import Persistence

/// A logger that drops everything, so test output stays readable.
let quietLogger = Logger(label: "persistence-tests", factory: { _ in SwiftLogNoOpLogHandler() })

/// Runs `body` with a fresh, empty directory that is removed afterwards.
func withTemporaryDirectory<T>(_ body: (URL) async throws -> T) async throws -> T {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("persistence-tests-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    return try await body(directory)
}

/// Opens a store, runs `body`, and always closes the store afterwards (also when `body` throws).
/// What it logs (debug and above) goes to `records`, if given.
func withStore<T>(
    _ configuration: PersistenceConfiguration, loggingTo records: RecordedLogs? = nil,
    _ body: (SQLiteGameStore) async throws -> T
) async throws -> T {
    let logger = records.map { records in Logger(label: "test") { _ in records } } ?? quietLogger
    let store = try await SQLiteGameStore.open(configuration, logger: logger)
    do {
        let result = try await body(store)
        await store.close()
        return result
    } catch {
        await store.close()
        throw error
    }
}

/// Shorthand for the database file inside a test directory.
func databasePath(in directory: URL, _ name: String = "game.db") -> String {
    directory.appendingPathComponent(name).path
}

func submission(_ player: String, _ score: Int64, mode: String = "classic") -> ScoreSubmission {
    ScoreSubmission(
        playerName: player, score: score, coins: score % 97, enemiesDefeated: score % 13,
        distance: score % 1_000, level: 1 + score % 5, gameMode: mode
    )
}

/// `YYYY-MM-DD HH:MM:SS`, as SQLite's CURRENT_TIMESTAMP writes it.
func isSQLiteTimestamp(_ text: String) -> Bool {
    text.wholeMatch(of: /\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/) != nil
}

struct RawSQLiteError: Error, CustomStringConvertible {
    let description: String
}

/// A direct connection through the sqlite3 C API, independent of the code under test.
final class RawDatabase {
    private let handle: OpaquePointer

    init(path: String) throws {
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nil)
        guard rc == SQLITE_OK, let db else {
            sqlite3_close_v2(db)
            throw RawSQLiteError(description: "cannot open \(path): rc \(rc)")
        }
        self.handle = db
    }

    deinit { sqlite3_close_v2(self.handle) }

    func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(self.handle, sql, nil, nil, &message)
        guard rc == SQLITE_OK else {
            let text = message.map { String(cString: $0) } ?? "rc \(rc)"
            sqlite3_free(message)
            throw RawSQLiteError(description: "\(text) (while: \(sql))")
        }
    }

    /// Every row of `sql`, each column read as text (NULL as nil).
    func rows(_ sql: String) throws -> [[String?]] {
        var statement: OpaquePointer?
        let rc = sqlite3_prepare_v2(self.handle, sql, -1, &statement, nil)
        guard rc == SQLITE_OK, let statement else {
            throw RawSQLiteError(description: "\(String(cString: sqlite3_errmsg(self.handle))) (while: \(sql))")
        }
        defer { sqlite3_finalize(statement) }
        var rows: [[String?]] = []
        while true {
            let step = sqlite3_step(statement)
            if step == SQLITE_DONE { break }
            guard step == SQLITE_ROW else {
                throw RawSQLiteError(description: "\(String(cString: sqlite3_errmsg(self.handle))) (while: \(sql))")
            }
            var row: [String?] = []
            for column in 0..<sqlite3_column_count(statement) {
                row.append(sqlite3_column_text(statement, column).map { String(cString: $0) })
            }
            rows.append(row)
        }
        return rows
    }

    func integer(_ sql: String) throws -> Int64 {
        guard let text = try self.rows(sql).first?.first, let text, let value = Int64(text) else {
            throw RawSQLiteError(description: "no integer from \(sql)")
        }
        return value
    }

    func strings(_ sql: String) throws -> [String] {
        try self.rows(sql).map { $0.first.flatMap { $0 } ?? "<NULL>" }
    }
}

extension RawDatabase {
    /// The SQL the store's in-memory leaderboards replace, run on this independent connection.
    func leaderboard(limit: Int, gameMode: String?) throws -> [StoredScore] {
        let filter = gameMode.map { "WHERE game_mode = '\($0.replacingOccurrences(of: "'", with: "''"))'" } ?? ""
        return try self.rows(
            """
            SELECT id, player_name, score, coins, enemies_defeated, distance, level, game_mode, created_at
            FROM scores \(filter) ORDER BY score DESC, id ASC LIMIT \(limit)
            """
        ).map { column in
            let integer = { (index: Int) in Int64(column[index]!)! }
            return StoredScore(
                id: integer(0),
                submission: ScoreSubmission(
                    playerName: column[1]!, score: integer(2), coins: integer(3), enemiesDefeated: integer(4),
                    distance: integer(5), level: integer(6), gameMode: column[7]!
                ),
                createdAt: column[8]!
            )
        }
    }
}

struct DeadlineExceeded: Error, CustomStringConvertible {
    let seconds: Int
    var description: String { "no answer within \(self.seconds) s" }
}

/// Awaits `operation`, but gives up after `seconds` so that a hang fails the test instead of
/// blocking the whole run. This is a watchdog, not synchronisation: correct code never waits for it.
/// Generous, as the operation runs in a new task, and as the whole suite starts a new task may
/// wait ~20 s for a thread.
func withDeadline<T: Sendable>(
    seconds: Int = 30, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let (stream, continuation) = AsyncStream.makeStream(of: Result<T, any Error>?.self)
    Task {
        do { continuation.yield(.success(try await operation())) } catch { continuation.yield(.failure(error)) }
    }
    let watchdog = Task {
        do {
            try await Task.sleep(for: .seconds(seconds))
            continuation.yield(nil)
        } catch {}  // cancelled: the operation answered in time
    }
    defer { watchdog.cancel() }
    for await first in stream {
        guard let first else { break }
        return try first.get()
    }
    throw DeadlineExceeded(seconds: seconds)
}

/// Counts down from a start value; thread-safe.
final class Countdown: Sendable {
    private let remaining: Mutex<Int>
    init(_ start: Int) { self.remaining = Mutex(start) }
    /// Decrements and returns whether this was the last one.
    func tick() -> Bool {
        self.remaining.withLock {
            $0 -= 1
            return $0 == 0
        }
    }
}

/// Starts `count` submits at once as unstructured tasks and streams each outcome as it
/// arrives; the stream ends after the last one. Unlike a task group, a consumer can stop
/// early, so a write that never completes makes a test fail rather than hang.
func launchSubmits(
    _ store: SQLiteGameStore, count: Int, _ make: @escaping @Sendable (Int) -> ScoreSubmission
) -> AsyncStream<Result<StoredScore, any Error>> {
    let (stream, continuation) = AsyncStream.makeStream(of: Result<StoredScore, any Error>.self)
    let countdown = Countdown(count)
    for index in 0..<count {
        Task {
            do { continuation.yield(.success(try await store.submit(make(index)))) } catch {
                continuation.yield(.failure(error))
            }
            if countdown.tick() { continuation.finish() }
        }
    }
    return stream
}

/// What a burst of submits came to.
struct BurstOutcome: Sendable {
    var accepted: [StoredScore] = []
    var overloaded = 0
    var otherErrors: [String] = []
    var closedEarly = false
    /// Writes that had completed when the store was closed early.
    var acceptedBeforeClose = 0
}

/// Sends `total` concurrent submits to a store whose queue holds `capacity` and whose flush
/// interval is long. Once every refusal (`total - capacity`) is in, the rest must be waiting
/// in the queue, and the store is closed, which must commit them. The store is closed on return.
func overloadThenClose(_ store: SQLiteGameStore, total: Int, capacity: Int) async throws -> BurstOutcome {
    try await withDeadline {
        var outcome = BurstOutcome()
        for await result in launchSubmits(store, count: total, { submission("p\($0)", Int64($0 * 10)) }) {
            switch result {
            case .success(let row): outcome.accepted.append(row)
            case .failure(let error as PersistenceError) where error == .overloaded: outcome.overloaded += 1
            case .failure(let error): outcome.otherErrors.append("\(error)")
            }
            if !outcome.closedEarly && outcome.overloaded == total - capacity {
                outcome.closedEarly = true
                outcome.acceptedBeforeClose = outcome.accepted.count
                await store.close()
            }
        }
        if !outcome.closedEarly { await store.close() }
        return outcome
    }
}
