import Foundation
import Logging
import RecordedLogs
import ServiceLifecycle
import Testing

@testable import RelayServer

/// `--memory-trim-seconds`: the memory freed in a burst goes back to the system (``MemoryTrim``).
/// One test at a time: another's blocks would take the memory one frees. (Other suites' are far
/// smaller; hence a bound of half what is freed.)
@Suite("Freed memory given back", .serialized)
struct MemoryTrimTests {
    /// 128 MiB in 64 KiB blocks, a block of the same size kept after every 16 of them (and last),
    /// then the others freed: as dropped players' queues leave it, free memory the allocator
    /// keeps between blocks in use, which it never gives back by itself. (A kept block smaller
    /// than any free space elsewhere would be put there, and the freed ones, joined to the top of
    /// the heap, given back at once.) The kept blocks are freed at the end.
    static func withFreedFragments(_ body: () async throws -> Void) async rethrows {
        let blockBytes = 64 << 10
        var freed: [UnsafeMutableRawPointer] = []
        var kept: [UnsafeMutableRawPointer] = []
        for index in 0..<((128 << 20) / blockBytes) {
            let block = malloc(blockBytes)!
            memset(block, 1, blockBytes)  // resident, as a queue's bytes are
            freed.append(block)
            if index % 16 == 15 { kept.append(malloc(blockBytes)!) }
        }
        defer { for block in kept { free(block) } }
        for block in freed { free(block) }
        try await body()
    }

    @Test("The service trims once the allocator keeps 16 MiB free, and says what went back")
    func theServiceTrimsWhatABurstFreed() async throws {
        let records = RecordedLogs()
        let trim = MemoryTrim(interval: .milliseconds(100), logger: Logger(label: "test") { _ in records })
        try await Self.withFreedFragments {
            let service = Task { try await trim.run() }
            defer { service.cancel() }
            try await eventually(timeout: .seconds(20)) {
                records.entries.contains { $0.message == "relay.memory.trimmed" }
            }
            let trimmed = try #require(records.entries.first { $0.message == "relay.memory.trimmed" })
            func megabytes(_ key: String) throws -> Int { try #require(trimmed.metadata[key].flatMap { Int("\($0)") }) }
            #expect(try megabytes("kept_free_mb") >= 64)
            // Most of the 128 MiB left the process's resident memory in that trim.
            #expect(try megabytes("rss_before_mb") - megabytes("rss_after_mb") >= 64, "\(trimmed.metadata)")
        }
    }

    @Test("A trim that gives nothing back is not logged: a server left with free memory is quiet")
    func aTrimWithNothingToGiveBackIsQuiet() async throws {
        let records = RecordedLogs()
        let trim = MemoryTrim(interval: .seconds(1), logger: Logger(label: "test") { _ in records })
        await Self.withFreedFragments {
            trim.trimIfWorthIt()
            #expect(records.entries.count == 1)
            // The same free memory, given back already: a trim again has almost nothing to give.
            trim.trimIfWorthIt()
            #expect(records.entries.count == 1, "\(records.entries)")
        }
    }

    @Test("Below the threshold nothing is trimmed or logged")
    func littleFreeMemoryIsLeftAlone() async {
        let records = RecordedLogs()
        await Self.withFreedFragments {
            let trim = MemoryTrim(
                interval: .seconds(1), logger: Logger(label: "test") { _ in records }, threshold: 1 << 40)
            trim.trimIfWorthIt()
            #expect(records.entries.isEmpty)
        }
    }

    @Test("The flag sets the interval; 0 runs no trim, and the default checks every 10 s")
    func theFlagSetsTheInterval() throws {
        let byDefault = try RelayCommand.parse([]).configuration(environment: [:])
        #expect(byDefault.memoryTrimInterval == .seconds(10))
        #expect(byDefault.memoryTrim(logger: Logger(label: "test")).count == 1)
        let off = try RelayCommand.parse(["--memory-trim-seconds", "0"]).configuration(environment: [:])
        #expect(off.memoryTrim(logger: Logger(label: "test")).isEmpty)
        #expect(throws: (any Error).self) { try RelayCommand.parse(["--memory-trim-seconds", "-1"]) }
    }
}
