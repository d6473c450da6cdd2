/// The server confirmed the create or join.
struct JoinConfirmation: Sendable, Equatable {
    var roomCode: String
    var playerID: String
    /// When the confirmation arrived (``BenchClock`` microseconds).
    var receivedAt: Int64
}

/// How a connection ended.
struct CloseOutcome: Sendable, Equatable {
    /// The code of the server's close frame; nil if the connection ended without one.
    var serverCloseCode: UInt16?
    /// Whether the bench started the close (its own close frame went first).
    var closedByBench: Bool
}

/// The server answered the greeting with an `error`.
struct ServerRefusal: Error, Equatable, CustomStringConvertible {
    var message: String
    var description: String { "server refused: \(self.message)" }
}

/// The connection ended before the server confirmed the create or join.
struct ClosedBeforeJoining: Error, CustomStringConvertible {
    var description: String { "connection closed before the room was joined" }
}

/// The server confirmed a join into another room than the code asked for: not a join, since
/// the bench's messages would then go to players it does not count.
struct JoinedAnotherRoom: Error, CustomStringConvertible {
    var description: String { "joined another room than the code asked for" }
}
