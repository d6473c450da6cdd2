import Dispatch
import Foundation
import Synchronization
import Testing

@testable import Handlers

#if canImport(Glibc)
    import Glibc
#endif

/// ``QueuedStandardError`` on a pipe the test reads, or stops reading.
@Suite("The log's queued standard error")
struct QueuedStandardErrorTests {
    @Test("Lines reach the descriptor whole and in order, and a flush waits for them")
    func linesArriveInOrder() throws {
        let pipe = try TestPipe()
        defer { pipe.close() }
        let output = QueuedStandardError(descriptor: pipe.writeEnd)
        let lines = (0..<2_000).map { "line \($0)\n" }
        for line in lines { output.write(line) }
        let reader = pipe.readInBackground()
        #expect(output.flush(within: .seconds(30)))
        pipe.closeWriteEnd()
        #expect(reader.textAtEnd() == lines.joined())
    }

    @Test(
        "A reader that stops reading holds up no writer: past the queue's bytes, lines are dropped and a warning counts them"
    )
    func aStalledReaderCostsLinesNotWaits() throws {
        let pipe = try TestPipe(capacity: 4_096)
        defer { pipe.close() }
        let output = QueuedStandardError(descriptor: pipe.writeEnd, capacity: 16_384)
        let line = { @Sendable (number: Int) in "line \(number) " + String(repeating: "x", count: 90) + "\n" }
        // 1 MB with nothing read: each write only queues or drops, or this never returns.
        let written = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            for number in 0..<10_000 { output.write(line(number)) }
            written.signal()
        }
        #expect(written.wait(timeout: .now() + 30) == .success, "a write waited for the reader")

        let reader = pipe.readInBackground()
        // The warning, written once the queue runs dry, is part of what a flush waits for: the
        // pipe is closed as soon as it returns.
        #expect(output.flush(within: .seconds(30)))
        pipe.closeWriteEnd()
        let read = reader.textAtEnd().split(separator: "\n").map(String.init)
        let numbers = read.compactMap { $0.firstMatch(of: /^line (\d+)\s/).flatMap { Int($0.1) } }
        let warnings = read.filter { $0.hasSuffix("log.lines_dropped") }
        try #require(warnings.count == 1, "\(read.suffix(3))")
        let dropped = try #require(warnings[0].firstMatch(of: /\scount=(\d+)\s/).flatMap { Int($0.1) })
        let kept = numbers.count
        // What was queued when the reader stopped is there, in order; the rest is counted, once,
        // where it went: after them.
        #expect(numbers == Array(0..<kept))
        #expect(kept >= 16_384 / 100 && kept + dropped == 10_000, "kept \(kept), dropped \(dropped)")
        #expect(read.last == warnings[0])
        #expect(warnings[0].contains(" warning relay: count=\(dropped) effect="), "\(warnings[0])")
    }

    @Test("A line alone over the queue's bytes is dropped, and its warning written without a line after it")
    func aLineOverTheCapacityIsCounted() throws {
        let pipe = try TestPipe()
        defer { pipe.close() }
        let output = QueuedStandardError(descriptor: pipe.writeEnd, capacity: 1_000)
        let reader = pipe.readInBackground()
        output.write("short\n")
        #expect(output.flush(within: .seconds(30)))  // the writer waits for lines again
        output.write(String(repeating: "z", count: 2_000) + "\n")
        #expect(output.flush(within: .seconds(30)))
        pipe.closeWriteEnd()
        let read = reader.textAtEnd().split(separator: "\n")
        #expect(read.count == 2 && read.first == "short", "\(read)")
        #expect(
            read.last?.hasSuffix(
                " count=1 effect=the log's reader fell that far behind: lines were dropped, not waited for queue.bytes=1000 [Handlers] log.lines_dropped"
            ) == true, "\(read)")
    }

    @Test("Lines written while others are dropped: every gap has its warning, with its count, in its place")
    func everyGapIsCounted() throws {
        let pipe = try TestPipe(capacity: 4_096)
        defer { pipe.close() }
        let output = QueuedStandardError(descriptor: pipe.writeEnd, capacity: 8_192)
        let total = 20_000
        let reader = pipe.readInBackground(pausingEvery: 4_096)
        for number in 0..<total { output.write("line \(number) " + String(repeating: "y", count: 40) + "\n") }
        #expect(output.flush(within: .seconds(60)))
        pipe.closeWriteEnd()
        let read = reader.textAtEnd().split(separator: "\n")
        var expected = 0
        var gaps = 0
        for text in read {
            if let count = text.firstMatch(of: /\scount=(\d+)\s.*log\.lines_dropped$/).flatMap({ Int($0.1) }) {
                expected += count
                gaps += 1
            } else if let number = text.firstMatch(of: /^line (\d+)\s/).flatMap({ Int($0.1) }) {
                #expect(number == expected, "a line missing or out of order, not counted")
                expected = number + 1
            }
        }
        #expect(expected == total)
        #expect(gaps > 0, "the reader kept up: nothing was dropped")
    }
}

/// A pipe the test reads from its other end, optionally holding `capacity` bytes (Linux).
private final class TestPipe: Sendable {
    let readEnd: Int32
    let writeEnd: Int32
    private let isWriteEndClosed = Mutex(false)

    init(capacity: Int32? = nil) throws {
        var ends: [Int32] = [0, 0]
        try #require(pipe(&ends) == 0)
        (self.readEnd, self.writeEnd) = (ends[0], ends[1])
        if let capacity {
            let setPipeSize: Int32 = 1_031  // F_SETPIPE_SZ (Linux), not exported to Swift
            try #require(fcntl(self.writeEnd, setPipeSize, capacity) == capacity)
        }
    }

    /// Starts reading everything the pipe gets, on a thread of its own, sleeping 1 ms after each
    /// `pausingEvery` bytes if given (a reader slower than the writer).
    func readInBackground(pausingEvery pause: Int? = nil) -> PipeReader {
        let reader = PipeReader()
        let descriptor = self.readEnd
        Thread.detachNewThread {
            var buffer = [UInt8](repeating: 0, count: pause ?? 65_536)
            while true {
                let count = read(descriptor, &buffer, buffer.count)
                guard count > 0 else { return reader.end() }
                reader.append(buffer[..<count])
                if pause != nil { usleep(1_000) }
            }
        }
        return reader
    }

    /// Ends the pipe for its reader (once the output is flushed: its writer thread keeps the number).
    func closeWriteEnd() {
        self.isWriteEndClosed.withLock { closed in
            if !closed { Glibc.close(self.writeEnd) }
            closed = true
        }
    }

    func close() {
        self.closeWriteEnd()
        Glibc.close(self.readEnd)
    }
}

/// What a background reader has read so far, and whether the pipe has ended.
private final class PipeReader: Sendable {
    private let state = Mutex<(bytes: [UInt8], ended: Bool)>(([], false))

    func append(_ chunk: ArraySlice<UInt8>) {
        self.state.withLock { $0.bytes += chunk }
    }

    func end() {
        self.state.withLock { $0.ended = true }
    }

    /// Everything read, once the pipe has ended (waiting at most 30 s).
    func textAtEnd() -> String {
        let deadline = ContinuousClock.now + .seconds(30)
        while !self.state.withLock(\.ended), ContinuousClock.now < deadline { usleep(1_000) }
        return self.state.withLock { String(decoding: $0.bytes, as: UTF8.self) }
    }
}
