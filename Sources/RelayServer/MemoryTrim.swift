import CMalloc
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle

/// Gives back to the system the memory a burst freed (``RelayCommand/memoryTrimSeconds``).
///
/// glibc's allocator keeps what the process frees for its own reuse, and returns only what lies at
/// the top of a heap. After the benchmark's 50 slow players were dropped and their queues freed,
/// the server stayed at 132 MB, 39 MB of it in use, for as long as it ran; one `malloc_trim`
/// brought it to 39 MB. So each interval, on NIO's blocking pool (a trim holds each heap's lock
/// while it works), the server asks the allocator what it keeps free, and trims if that is
/// ``threshold`` or more: a server that keeps up frees little, and is never trimmed.
struct MemoryTrim: Service {
    let interval: Duration
    let logger: Logger
    /// Freed memory worth giving back: less is the churn of a server at work.
    var threshold = 16 << 20

    func run() async throws {
        await cancelWhenGracefulShutdown {
            // Until the sleep throws: the graceful shutdown cancelled it.
            while (try? await Task.sleep(for: self.interval)) != nil {
                _ = try? await NIOThreadPool.singleton.runIfActive { self.trimIfWorthIt() }
            }
        }
    }

    /// Trims if the allocator keeps ``threshold`` or more free, and logs it if that gave back
    /// ``worthLogging`` or more. (What it keeps free counts what a trim gave back already: a server
    /// left with much free memory is trimmed each interval, at ~0.1 ms once nothing is left to give.)
    func trimIfWorthIt() {
        guard let kept = Self.keptFree(), kept >= self.threshold else { return }
        let before = ResidentMemory.bytes()
        let start = ContinuousClock.now
        cmalloc_trim()
        let took = ContinuousClock.now - start
        guard let before, let after = ResidentMemory.bytes(), before - after >= Self.worthLogging else { return }
        self.logger.info(
            "relay.memory.trimmed",
            metadata: [
                "kept_free_mb": "\(kept >> 20)", "rss_before_mb": "\(before >> 20)", "rss_after_mb": "\(after >> 20)",
                "took_ms": "\(String(format: "%.1f", took / .milliseconds(1)))",
            ])
    }

    /// Memory a trim must give back to be logged.
    static let worthLogging = 1 << 20

    /// Bytes the allocator holds free, given back to the system or not; nil where it cannot tell
    /// (an allocator other than glibc's, which cannot be trimmed either).
    static func keptFree() -> Int? {
        let bytes = cmalloc_free_bytes()
        return bytes >= 0 ? Int(bytes) : nil
    }
}

extension ServerConfiguration {
    /// The memory trim this configuration asks for, as the services to run: none when off, or
    /// where the allocator cannot be asked.
    func memoryTrim(logger: Logger) -> [any Service] {
        guard self.memoryTrimInterval > .zero, MemoryTrim.keptFree() != nil else { return [] }
        return [MemoryTrim(interval: self.memoryTrimInterval, logger: logger)]
    }
}

/// The process's resident memory, from `/proc/self/statm`.
enum ResidentMemory {
    static func bytes() -> Int? {
        guard let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        let fields = statm.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
