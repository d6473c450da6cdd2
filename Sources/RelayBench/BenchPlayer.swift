import Foundation
import Logging
import NIOCore
import WSClient

/// One simulated player: a real WebSocket connection that creates or joins a room, then
/// sends `player_state` at a fixed rate and timestamps every `player_state_update` it receives.
struct BenchPlayer: Sendable {
    let url: String
    let playerName: String
    /// nil: create a room (and report its code); else join this code.
    let joinCode: String?
    let hertz: Double
    let payloadBytes: Int
    let roomSize: Int
    let clock: BenchClock
    let recorder: LatencyRecorder
    let started: StartGate
    let logger: Logger

    /// Runs the connection until `stopAt`. `onJoined` gets the room code once the server
    /// confirmed the create/join; throws if the connection fails before that.
    func run(onJoined: @escaping @Sendable (String) -> Void) async throws {
        let joinCode = self.joinCode
        let path = joinCode.map { "/ws/room/\($0)" } ?? "/ws/room/new"
        try await WebSocketClient.connect(
            url: self.url + path, configuration: .init(maxFrameSize: 1 << 20), logger: self.logger
        ) { inbound, outbound, _ in
            let hello: String =
                if let joinCode {
                    #"{"type":"join_room","room_id":"\#(joinCode)","player_name":"\#(self.playerName)"}"#
                } else {
                    #"{"type":"create_room","room_name":"bench","player_name":"\#(self.playerName)","max_players":\#(Swift.max(2, self.roomSize))}"#
                }
            try await outbound.write(.text(hello))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for try await message in inbound.messages(maxSize: 1 << 20) {
                        guard case .text(let text) = message else { continue }
                        self.receive(text, onJoined: onJoined)
                    }
                }
                group.addTask {
                    try await self.sendLoop(outbound)
                }
                try await group.next()
                group.cancelAll()
            }
        }
    }

    private func receive(_ text: String, onJoined: @Sendable (String) -> Void) {
        if text.hasPrefix(#"{"type":"player_state_update""#) {
            if let sent = Self.integer(after: #""t":"#, in: text) {
                let now = self.clock.micros()
                self.recorder.recordDelivery(latencyMicros: UInt64(Swift.max(0, now - sent)))
            }
        } else if text.hasPrefix(#"{"type":"room_created""#) || text.hasPrefix(#"{"type":"room_joined""#) {
            if let code = Self.string(after: #""room_id":""#, in: text) { onJoined(code) }
        } else if text.hasPrefix(#"{"type":"error""#) {
            self.recorder.recordError()
            self.logger.debug("bench.server_error", metadata: ["message": "\(text)"])
        }
    }

    private func sendLoop(_ outbound: WebSocketOutboundWriter) async throws {
        let stopAt = await self.started.wait()
        let period = Duration.nanoseconds(Int64(1e9 / self.hertz))
        // Spread players over the period so the load is even rather than in bursts.
        var next = ContinuousClock.now + period * Double.random(in: 0..<1)
        let padding = String(repeating: "p", count: self.payloadBytes)
        var sequence = 0
        while next < stopAt {
            try await Task.sleep(until: next, clock: .continuous)
            sequence += 1
            let x = Double(sequence % 800) + 0.123
            let message =
                #"{"type":"player_state","state":{"x":\#(x),"y":550.5,"velocity_x":1.25,"velocity_y":0,"#
                + #""facing_right":true,"is_jumping":false,"t":\#(self.clock.micros()),"s":\#(sequence)"#
                + (self.payloadBytes > 0 ? #","pad":"\#(padding)"}}"# : "}}")
            try await outbound.write(.text(message))
            self.recorder.recordSend(recipients: self.roomSize - 1)
            next += period
        }
        // Let the last messages arrive before the connection closes.
        try await Task.sleep(for: .seconds(1))
    }

    /// The integer right after `marker` in `text`.
    static func integer(after marker: String, in text: String) -> Int64? {
        guard let range = text.range(of: marker) else { return nil }
        let digits = text[range.upperBound...].prefix { $0.isNumber || $0 == "-" }
        return Int64(digits)
    }

    /// The string value right after `marker` (which ends with the opening quote).
    static func string(after marker: String, in text: String) -> String? {
        guard let range = text.range(of: marker) else { return nil }
        return String(text[range.upperBound...].prefix { $0 != "\"" })
    }
}

/// Microseconds since the benchmark started, shared by senders and receivers.
struct BenchClock: Sendable {
    let origin = ContinuousClock.now

    func micros() -> Int64 {
        let elapsed = ContinuousClock.now - self.origin
        return elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
    }
}
