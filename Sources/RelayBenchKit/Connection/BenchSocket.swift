import NIOCore

/// One bench connection as the scenarios see it: thread-safe commands that run on the
/// connection's event loop, and futures for its join and its end.
final class BenchSocket: Sendable {
    let channel: any Channel
    /// Completes when the server confirmed the create or join; fails on refusal or close.
    let joined: EventLoopFuture<JoinConfirmation>
    /// Completes when the connection has closed.
    let closed: EventLoopFuture<CloseOutcome>
    private let handler: NIOLoopBound<BenchSocketHandler>

    init(channel: any Channel, handler: NIOLoopBound<BenchSocketHandler>) {
        self.channel = channel
        self.handler = handler
        self.joined = handler.value.joined
        self.closed = handler.value.closed
    }

    /// Waits for the server's confirmation (the connection's watchdog bounds the wait).
    func confirmation() async throws -> JoinConfirmation {
        try await self.joined.get()
    }

    /// Waits for the server's confirmation that this connection joined room `code`.
    func confirmation(joining code: String) async throws -> JoinConfirmation {
        let confirmation = try await self.joined.get()
        guard confirmation.roomCode == code else { throw JoinedAnotherRoom() }
        return confirmation
    }

    /// Starts sending the encoder's state message at `hertz`; each should reach `recipients` room-mates
    /// (in room `room` of the fleet).
    func startSending(hertz: Double, recipients: Int, encoder: StateMessageEncoder, grid: TimeAmount, room: Int64) {
        self.onLoop {
            $0.startSending(hertz: hertz, recipients: recipients, encoder: encoder, grid: grid, room: room)
        }
    }

    /// Stops sending, with `end` after the sends due before it that a loop running behind has
    /// yet to make; the future completes once the connection's loop has stopped, so no send is
    /// counted after it.
    @discardableResult
    func stopSending(sendingWhatIsDueBefore end: NIODeadline? = nil) -> EventLoopFuture<Void> {
        let handler = self.handler
        return self.channel.eventLoop.submit { handler.value.stopSending(sendingWhatIsDueBefore: end) }
    }

    /// Makes this a slow consumer's connection: it records nothing it receives.
    func stopCounting() { self.onLoop { $0.countsDeliveries = false } }

    func pauseReading() { self.onLoop { $0.pauseReading() } }

    func resumeReading() { self.onLoop { $0.resumeReading() } }

    /// Sends `leave_room` (unless the join was refused) and a close frame; the socket is closed
    /// within `grace` either way.
    func leave(grace: TimeAmount = .seconds(2)) { self.onLoop { $0.leave(grace: grace) } }

    private func onLoop(_ body: @escaping @Sendable (BenchSocketHandler) -> Void) {
        let handler = self.handler
        self.channel.eventLoop.execute { body(handler.value) }
    }
}
