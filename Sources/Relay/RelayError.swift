/// Every error a WebSocket client can receive, in one table: a stable machine-readable
/// `code` and the human message (the old backend's wording where it had one).
public struct RelayError: Error, Equatable, Sendable {
    /// Stable identifier clients can switch on, e.g. `unknown_type`.
    public let code: String
    /// Human-readable explanation.
    public let message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }

    /// Says why and where, for whoever is debugging a client: `number out of range at byte 37`.
    public static func invalidJSON(_ reason: String, atByte offset: Int) -> RelayError {
        RelayError(code: "invalid_json", message: "Message is not valid JSON: \(reason) at byte \(offset)")
    }
    /// Well-formed JSON whose string is not Unicode text (`"\ud800"`): it could not be relayed.
    /// `offset` is where the parser stopped, just after the escape, as for ``invalidJSON(_:atByte:)``.
    public static func loneSurrogate(atByte offset: Int) -> RelayError {
        RelayError(
            code: "invalid_field", message: "Strings must be valid Unicode: a lone surrogate escape at byte \(offset)")
    }
    /// A string stacking more combining marks than Unicode's Stream-Safe Text Format allows
    /// (``CombiningMarkRuns``); `offset` is just after the string.
    public static func longCombiningRun(atByte offset: Int) -> RelayError {
        RelayError(
            code: "invalid_field",
            message:
                "Strings may stack at most \(CombiningMarkRuns.limit) combining marks in a row: a longer run ends at byte \(offset)"
        )
    }
    public static let notAnObject = RelayError(code: "invalid_message", message: "Message must be a JSON object")
    public static let binaryFrame = RelayError(code: "invalid_message", message: "Binary frames are not supported")
    public static let invalidUTF8 = RelayError(code: "invalid_message", message: "Text frames must be valid UTF-8")
    public static let missingType = RelayError(code: "missing_type", message: "Message has no string 'type'")
    public static func unknownType(_ type: String) -> RelayError {
        RelayError(code: "unknown_type", message: "Unknown message type '\(Self.excerpt(type))'")
    }
    public static func invalidField(_ field: String, expected: String) -> RelayError {
        RelayError(code: "invalid_field", message: "Field '\(field)' must be \(expected)")
    }
    public static let notInRoom = RelayError(code: "not_in_room", message: "Create or join a room first")
    public static let alreadyInRoom = RelayError(code: "already_in_room", message: "Already in a room; leave it first")
    public static let joinFailed = RelayError(
        code: "join_failed", message: "Failed to join room. Room may be full or game already started.")
    public static let duplicatePlayerID = RelayError(
        code: "duplicate_player_id", message: "That player_id is already used in this room")
    public static let startFailed = RelayError(
        code: "start_failed", message: "Cannot start game. All players must be ready and at least 2 players needed.")
    public static let gameAlreadyStarted = RelayError(
        code: "game_already_started", message: "The game is already running")
    public static let notHost = RelayError(code: "not_host", message: "Only the host can do that")
    public static let reconnectFailed = RelayError(
        code: "reconnect_failed", message: "Reconnection failed. Token invalid or session expired.")
    public static let rateLimited = RelayError(code: "rate_limited", message: "Too many messages; slow down")
    public static func tooLong(_ field: String, limit: Int) -> RelayError {
        RelayError(code: "too_long", message: "Field '\(field)' is longer than \(limit) characters")
    }
    /// A message longer than the plugin taking its type reads (its hello's `max_message_bytes`).
    public static func messageTooLong(_ type: String, limit: Int) -> RelayError {
        RelayError(code: "too_long", message: "Message '\(Self.excerpt(type))' is longer than \(limit) bytes")
    }
    public static func limitExceeded(_ what: String, limit: Int) -> RelayError {
        RelayError(code: "limit_exceeded", message: "Too many \(what) (limit \(limit))")
    }
    public static let serverFull = RelayError(code: "server_full", message: "The server has no room for more rooms")
    public static func pluginTimeout(_ type: String) -> RelayError {
        RelayError(
            code: "plugin_timeout", message: "The plugin handling '\(Self.excerpt(type))' did not answer in time")
    }
    public static func pluginUnavailable(_ type: String) -> RelayError {
        RelayError(code: "plugin_unavailable", message: "The plugin handling '\(Self.excerpt(type))' is not running")
    }
    public static func pluginError(_ type: String) -> RelayError {
        RelayError(code: "plugin_error", message: "The plugin handling '\(Self.excerpt(type))' gave an invalid answer")
    }

    /// The start of a client's `type` to quote: 64 code points, not characters, since one
    /// character may carry any number of combining marks.
    private static func excerpt(_ type: String) -> String {
        String(String.UnicodeScalarView(type.unicodeScalars.prefix(64)))
    }
}

/// WebSocket close codes the relay sends as numbers rather than NIO's named ones (1009 too big,
/// 1001 going away, …): its own 4000-range codes, and 1008 for flooding.
public enum RelayCloseCode {
    /// The client fell too far behind reading its messages; it may reconnect.
    public static let slowConsumer: UInt16 = 4000
    /// Another connection took over this player with its reconnect token.
    public static let replaced: UInt16 = 4001
    /// Persistent flooding after `rate_limited` warnings (sent as 1008, policy violation).
    public static let policyViolation: UInt16 = 1008
}
