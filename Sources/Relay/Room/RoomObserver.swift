/// Told what happens to the members of every room, inside the room, after the room has announced
/// it: for handlers of a game's own types that must react (count a vote again when a voter leaves,
/// send a joiner the state of a round). Register one with `RelayServerBuilder.register(observer:)`.
///
/// Each method runs in the room's isolation, like a room handler's `handle`, so it may read and
/// change `room.state`, send, remove members and set timers; it must be quick, as the room does
/// nothing else meanwhile. One observer serves every room, and rooms on different event loops
/// call it at the same time: what it keeps outside the rooms needs a lock (better, keep it in
/// `room.state.custom`). What an observer causes (a member it removes) is told to every observer
/// after what it was told of, so each hears a room's events in the order they happened; the
/// room's state may be ahead of what a later observer has heard so far. Every method does
/// nothing unless implemented.
///
/// At the server's stop every socket is closed: each connected member is told as dropped, and
/// nothing after (no departure, no closing: the rooms go with the process), unless the reconnect
/// window ends before the process does (a window of 0 s, or shorter than the stop takes).
public protocol RoomObserver: Sendable {
    /// `player` joined the room, or created it; their welcome (`room_joined`, `room_created`) is
    /// queued.
    func memberJoined(_ player: RoomPlayer, in room: isolated GameRoom)
    /// `player` came back on a new connection (`reconnect`); their `reconnected` is queued. A
    /// player whose old connection was still open is told as reconnected without having dropped.
    func memberReconnected(_ player: RoomPlayer, in room: isolated GameRoom)
    /// `player`'s socket closed without `leave_room`: they are away, and may come back within the
    /// reconnect window.
    func memberDropped(_ player: RoomPlayer, in room: isolated GameRoom)
    /// `player` is gone from the room: they left (a `join_room` into the room they are in leaves it
    /// first), a handler removed them, their window ran out, or, being away, they made way for a
    /// joiner to a full lobby, were let go as the game started, or their room was evicted for a
    /// new one at the server's cap. `player` is as they were, their own values
    /// (``RoomPlayer/custom``) included.
    func memberLeft(_ player: RoomPlayer, in room: isolated GameRoom)
    /// The room is closing, its last member gone (or, for a room made for a `create_room` whose
    /// sender hung up first, never there): its values are still there, its timers about to be
    /// cancelled, and it sets no new ones.
    func roomClosing(_ room: isolated GameRoom)
}

extension RoomObserver {
    public func memberJoined(_ player: RoomPlayer, in room: isolated GameRoom) {}
    public func memberReconnected(_ player: RoomPlayer, in room: isolated GameRoom) {}
    public func memberDropped(_ player: RoomPlayer, in room: isolated GameRoom) {}
    public func memberLeft(_ player: RoomPlayer, in room: isolated GameRoom) {}
    public func roomClosing(_ room: isolated GameRoom) {}
}
