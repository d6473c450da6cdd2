import ArgumentParser

/// The numbers each option takes. One outside its range stops the server at start with a message
/// naming the option and the range, as an unreadable value does: a negative body size used to
/// crash the server at its first request, and a frame cap of 100 was quietly raised to 1,024.
/// The lows are what the server needs to work (a room of two, a message of the game's size); the
/// highs are far past any real use and keep the arithmetic on them (bursts, nanoseconds) in range.
extension RelayCommand {
    struct NumericRange {
        let option: String
        let value: Double
        let range: ClosedRange<Double>
        /// 0 is taken too (for what ``zeroMeans`` says), below a range that starts above it.
        var zeroIsOff = false
        /// What 0 does, where it is taken, in the refusal's words.
        var zeroMeans = "no limit"

        init(
            _ option: String, _ value: Int, _ range: ClosedRange<Int>, zeroIsOff: Bool = false,
            zeroMeans: String = "no limit"
        ) {
            self.option = option
            self.value = Double(value)
            self.range = Double(range.lowerBound)...Double(range.upperBound)
            (self.zeroIsOff, self.zeroMeans) = (zeroIsOff, zeroMeans)
        }

        init(_ option: String, _ value: Double, _ range: ClosedRange<Double>, zeroIsOff: Bool = false) {
            (self.option, self.value, self.range, self.zeroIsOff) = (option, value, range, zeroIsOff)
        }

        var isValid: Bool { self.range.contains(self.value) || (self.zeroIsOff && self.value == 0) }
    }

    static let maxSeconds = 86_400
    static let maxCount = 10_000_000
    static let maxBytes = 1 << 30

    /// Every numeric option with its value and range, in `--help`'s order.
    var numericRanges: [NumericRange] {
        let ranges: [NumericRange?] = [
            NumericRange("batch-size", self.batchSize, 1...100_000),
            NumericRange("batch-window-ms", self.batchWindowMs, 0...60_000),
            NumericRange("write-queue-capacity", self.writeQueueCapacity, 1...Self.maxCount),
            NumericRange("game-modes-in-memory", self.gameModesInMemory, 0...Self.maxCount),
            NumericRange("max-body-bytes", self.maxBodyBytes, 1_024...Self.maxBytes),
            NumericRange("http-idle-timeout-seconds", self.httpIdleTimeoutSeconds, 1...Self.maxSeconds),
            NumericRange("http-answer-grace-seconds", self.httpAnswerGraceSeconds, 1...Self.maxSeconds),
            NumericRange("http-min-answer-bytes-per-second", self.httpMinAnswerBytesPerSecond, 0...Self.maxBytes),
            self.maxConnections.map { NumericRange("max-connections", $0, 1...Self.maxCount) },
            NumericRange("max-connections-per-address", self.maxConnectionsPerAddress, 0...Self.maxCount),
            // Not slower than one a thousand seconds: a bucket's refill time is a `Duration`, which
            // traps past ~1.7e20 s (a rate of 1e-21 passed, and crashed the server at a sweep).
            NumericRange(
                "new-connections-per-second-per-address", self.newConnectionsPerSecondPerAddress, 0.001...1e6,
                zeroIsOff: true),
            NumericRange("writes-per-second-per-address", self.writesPerSecondPerAddress, 0.001...1e6, zeroIsOff: true),
            NumericRange(
                "http-requests-per-second-per-address", self.httpRequestsPerSecondPerAddress, 0.001...1e6,
                zeroIsOff: true),
            NumericRange("max-players-per-room", self.maxPlayersPerRoom, 2...1_000),
            NumericRange("max-rooms", self.maxRooms, 1...Self.maxCount),
            NumericRange("max-rooms-per-address", self.maxRoomsPerAddress, 0...Self.maxCount),
            NumericRange("max-entity-bytes-per-server", self.maxEntityBytesPerServer, 65_536...(1 << 40)),
            NumericRange("reconnect-window-seconds", self.reconnectWindowSeconds, 0...Self.maxSeconds),
            NumericRange("messages-per-second", self.messagesPerSecond, 1...Self.maxCount),
            NumericRange("state-messages-per-second", self.stateMessagesPerSecond, 1...Self.maxCount),
            NumericRange("inbound-bytes-per-second", self.inboundBytesPerSecond, 1_024...Self.maxBytes),
            // 0 turns these two off; 1 byte a second was taken, and held every client's sockets for
            // days once its burst was spent.
            NumericRange(
                "inbound-bytes-per-second-per-address", self.inboundBytesPerSecondPerAddress, 1_024...Self.maxBytes,
                zeroIsOff: true),
            NumericRange(
                "busy-loop-inbound-bytes-per-second", self.busyLoopInboundBytesPerSecond, 1_024...Self.maxBytes,
                zeroIsOff: true),
            NumericRange("max-frame-bytes", self.maxFrameBytes, 1_024...Self.maxBytes),
            NumericRange("outbound-queue-frames", self.outboundQueueFrames, 8...Self.maxCount),
            NumericRange("outbound-queue-bytes", self.outboundQueueBytes, 65_536...Self.maxBytes),
            NumericRange("outbound-queue-seconds", self.outboundQueueSeconds, 1...Self.maxSeconds, zeroIsOff: true),
            NumericRange(
                "memory-trim-seconds", self.memoryTrimSeconds, 1...Self.maxSeconds, zeroIsOff: true, zeroMeans: "never"),
            NumericRange("max-outbound-bytes-per-server", self.maxOutboundBytesPerServer, 65_536...(1 << 40)),
            NumericRange("ping-interval-seconds", self.pingIntervalSeconds, 1...Self.maxSeconds),
            NumericRange("max-chat-length", self.maxChatLength, 1...1_000_000),
            NumericRange("plugin-timeout-ms", self.pluginTimeoutMs, 1...600_000),
            NumericRange("plugin-startup-timeout-seconds", self.pluginStartupTimeoutSeconds, 1...600),
        ]
        return ranges.compactMap { $0 }
    }

    /// Refuses a number outside its option's range (ArgumentParser runs this after parsing).
    func validate() throws {
        for option in self.numericRanges where !option.isValid {
            // A NaN is in no range; `contains` is false for it, as for an infinity.
            let range =
                (option.zeroIsOff ? "0 (\(option.zeroMeans)) or " : "")
                + "\(Self.text(option.range.lowerBound))…\(Self.text(option.range.upperBound))"
            throw ValidationError("--\(option.option) must be \(range), not \(Self.text(option.value))")
        }
    }

    /// A rate as written in decimal (`10`, `0.5`, `1e3`): Swift's `Double` also reads `0x10` and
    /// `0x1p3`, which the integer options refuse, and which took effect as 16 and 8 without a word.
    /// A NaN or an infinity is read, for the range to refuse by name.
    static func decimalNumber(_ text: String) throws -> Double {
        let decimal = text.wholeMatch(of: /[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/) != nil
        guard decimal || ["nan", "inf", "infinity", "+inf", "-inf"].contains(text.lowercased()),
            let number = Double(text)
        else { throw ValidationError("'\(text)' is not a decimal number") }
        return number
    }

    private static func text(_ number: Double) -> String {
        number.rounded() == number && abs(number) < 1e15 ? String(Int(number)) : String(number)
    }
}
