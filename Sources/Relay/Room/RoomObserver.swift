/// Told what happens to the members of every room, inside the room, after the room has announced
/// it: for handlers of a game's own types that must react (count a vote again when a voter leaves,
/// send a joiner the state of a round). Register one with `RelayServerBuilder.register(observer:)`.
///
/// Each method runs in the room's isolation, like a ``RoomMessageHandler``, so it may read and
/// change `room.state`, send, remove members and set timers; it must be quick, as the room does
/// nothing else meanwhile. Every method does nothing unless implemented.
public protocol RoomObserver: Sendable {
    /// `player` joined or created the room; their welcome (`room_joined`, `room_created`) is queued.
    func memberJoined(_ player: RoomPlayer, in room: isolated GameRoom)
    /// `player` came back on a new connection (`reconnect`); their `reconnected` is queued.
    func memberReconnected(_ player: RoomPlayer, in room: isolated GameRoom)
    /// `player`'s socket closed without `leave_room`: they are away, and may come back within the
    /// reconnect window.
    func memberDropped(_ player: RoomPlayer, in room: isolated GameRoom)
    /// `player` is gone for good: they left, a handler removed them, or their window ran out.
    /// `player` is as they were, their own values (``RoomPlayer/custom``) included.
    func memberLeft(_ player: RoomPlayer, in room: isolated GameRoom)
    /// The room is closing, its last member gone: its values are still there, its timers about
    /// to be cancelled, and it sets no new ones.
    func roomClosing(_ room: isolated GameRoom)
}

extension RoomObserver {
    public func memberJoined(_ player: RoomPlayer, in room: isolated GameRoom) {}
    public func memberReconnected(_ player: RoomPlayer, in room: isolated GameRoom) {}
    public func memberDropped(_ player: RoomPlayer, in room: isolated GameRoom) {}
    public func memberLeft(_ player: RoomPlayer, in room: isolated GameRoom) {}
    public func roomClosing(_ room: isolated GameRoom) {}
}
