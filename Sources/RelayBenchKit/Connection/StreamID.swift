import Synchronization

/// The stream id (`k`) a sending stamps on each of its messages: the number of the room it was
/// sent in, in the high bits, and a number unique in the process below them. A receiver tells a
/// room-mate's relay from one the server sent it from another room, and each sending's sequence
/// numbers from any other's. Under 2^53, so that a server in JavaScript keeps it exact.
enum StreamID {
    static let serialBits = 24
    /// Rooms numbered up to this keep every id under 2^53.
    static let maxRoom: Int64 = 1 << (53 - serialBits) - 1
    private static let nextSerial = Atomic<Int64>(1)

    /// A new stream for a sending in room `room` (1 … ``maxRoom``).
    static func next(inRoom room: Int64) -> Int64 {
        precondition((1...Self.maxRoom).contains(room), "room number out of range")
        let serial = Self.nextSerial.wrappingAdd(1, ordering: .relaxed).oldValue & (1 << Self.serialBits - 1)
        return room << Self.serialBits | serial
    }

    /// The room a stream was sent in.
    static func room(of stream: Int64) -> Int64 { stream >> Self.serialBits }

    /// Where a relay of `stream` comes from, for a receiver sending `ownStream` in room `room`
    /// (each nil until it has sent).
    static func origin(of stream: Int64, ownStream: Int64?, room: Int64?) -> Origin {
        if stream == ownStream { return .ownSending }
        if let room, Self.room(of: stream) != room { return .anotherRoom }
        return .roomMate
    }

    enum Origin: Equatable {
        case roomMate
        /// An echo: the server sent the receiver's own message back to it.
        case ownSending
        /// The server sent a message of another room's to the receiver.
        case anotherRoom
    }
}
