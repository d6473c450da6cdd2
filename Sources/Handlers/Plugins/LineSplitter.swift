#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Cuts a byte stream into `\n`-terminated lines of bounded length.
///
/// A line longer than `maxLineBytes` is discarded up to its newline and reported once, so
/// a plugin printing a huge blob costs a bounded amount of memory.
struct LineSplitter {
    let maxLineBytes: Int
    private var partial: [UInt8] = []
    private var discarding = false

    init(maxLineBytes: Int) {
        self.maxLineBytes = max(1, maxLineBytes)
    }

    /// Feeds `bytes`; calls `onLine` for each complete line (without `\n` or a trailing `\r`)
    /// and `onOversized` for each line that was too long.
    mutating func feed(
        _ bytes: UnsafeRawBufferPointer, onLine: (UnsafeRawBufferPointer) -> Void, onOversized: () -> Void
    ) {
        guard let base = bytes.baseAddress else { return }
        var start = 0
        while start < bytes.count {
            // libc's search, not a byte loop: a plugin flooding its output costs the reader little.
            guard let found = memchr(base + start, Int32(UInt8(ascii: "\n")), bytes.count - start) else {
                self.keep(
                    UnsafeRawBufferPointer(start: base + start, count: bytes.count - start), onOversized: onOversized)
                return
            }
            let newline = base.distance(to: UnsafeRawPointer(found))
            let segment = UnsafeRawBufferPointer(start: base + start, count: newline - start)
            start = newline + 1
            if self.discarding {
                self.discarding = false
                continue
            }
            if self.partial.isEmpty {
                guard segment.count <= self.maxLineBytes else {
                    onOversized()
                    continue
                }
                Self.deliver(segment, onLine)
            } else {
                self.keep(segment, onOversized: onOversized)
                if self.discarding {
                    self.discarding = false
                    continue
                }
                self.partial.withUnsafeBytes { Self.deliver($0, onLine) }
                self.partial.removeAll(keepingCapacity: true)
            }
        }
    }

    /// Holds an unfinished line, or starts discarding it once it is too long.
    private mutating func keep(_ bytes: UnsafeRawBufferPointer, onOversized: () -> Void) {
        guard !self.discarding else { return }
        guard self.partial.count + bytes.count <= self.maxLineBytes else {
            self.partial = []
            self.discarding = true
            onOversized()
            return
        }
        self.partial.append(contentsOf: bytes)
    }

    private static func deliver(_ line: UnsafeRawBufferPointer, _ onLine: (UnsafeRawBufferPointer) -> Void) {
        if line.count > 0, line[line.count - 1] == UInt8(ascii: "\r") {
            onLine(UnsafeRawBufferPointer(start: line.baseAddress, count: line.count - 1))
        } else {
            onLine(line)
        }
    }
}
