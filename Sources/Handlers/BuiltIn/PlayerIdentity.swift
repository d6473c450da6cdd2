public import Relay

/// Checks of a client-chosen `player_id` (`create_room`, `join_room`, and a handler of your own
/// that admits players as they do).
public enum PlayerIdentity {
    /// The longest `player_id`, in Unicode code points like names: one letter with 300 combining
    /// accents is 301, not one.
    public static let maxLength = 64

    /// The `player_id` the client asked for, if any (1…``maxLength``).
    public static func requestedID(in message: InboundMessage) throws(RelayError) -> String? {
        guard let requested = try message.optionalString("player_id"), !requested.isEmpty else { return nil }
        guard requested.unicodeScalars.count <= Self.maxLength else {
            throw .tooLong("player_id", limit: Self.maxLength)
        }
        return requested
    }
}
