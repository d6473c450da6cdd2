/// Bounds that keep one client, one room or one burst from costing the server more
/// than its share. Every default can be changed at start-up.
public struct RelayLimits: Sendable {
    /// Largest inbound WebSocket frame/message in bytes (default 64 KiB; larger closes with 1009).
    public var maxFrameBytes = 64 * 1024
    /// Sustained inbound messages per second per connection, state relays aside (default 2,000).
    public var messagesPerSecond = 2_000.0
    /// Burst allowance above the sustained rate (default 4,000 messages: two seconds' worth).
    public var messageBurst = 4_000.0
    /// Rate-limited messages within the last 10 s (counted by whole seconds, so up to 11 s back)
    /// that close the connection with 1008 (default 20,000: twice the sustained rate for 10 s).
    public var floodCloseThreshold = 20_000
    /// Sustained `player_state` and `enemy_state` messages per second per connection, a budget of
    /// their own (default 10,000); past it they are shed without an error. The game's host sends
    /// 60 `player_state`s a second and one `enemy_state` per enemy it tracks every 50 ms: 360 a
    /// second with the 15 enemies a game starts with, and more as a run leaves enemies behind.
    public var stateMessagesPerSecond = 10_000.0
    /// Burst allowance for state relays (default 20,000).
    public var stateMessageBurst = 20_000.0
    /// Shed state relays within the last 10 s (counted by whole seconds, so up to 11 s back) that
    /// close the connection with 1008 (default 100,000: twice the sustained rate for 10 s).
    public var stateFloodCloseThreshold = 100_000
    /// Sustained bytes per second read from a connection, frames of every kind together (default
    /// 2 MiB: 10,000 of the game's ~200-byte state relays). The message budgets count messages,
    /// but one 64 KiB message of small JSON values costs the event loop ~5 ms to read and relay,
    /// a game message ~10 µs. Past it reading from that connection pauses until the budget has
    /// refilled: the client's sends wait in TCP, and nothing it sent is refused.
    public var inboundBytesPerSecond = 2 << 20
    /// Burst allowance for inbound bytes (default 512 KiB, a quarter second's worth; never less
    /// than one largest message). Past it a client is read at the rate, never refused, so a
    /// small burst costs the game nothing (its messages are a few hundred bytes), while each
    /// byte of a burst may buy work that other rooms on the loop wait for.
    public var inboundByteBurst = 512 << 10
    /// Bytes of that budget each JSON value of a decoded message costs past its first
    /// ``decodedValuesPaidByBytes`` (default 64). The loop's work for a message is per value, not
    /// per byte: ~0.3 µs each to decode, handle and free, so a 64 KiB message of 16,000 small
    /// objects holds the loop ~5 ms, one of a long string far less. At this price such a message
    /// costs ~1 MiB, and one connection's value-dense messages hold its loop ~1 % of the time at
    /// most. The game's messages, of tens of values, cost only their bytes.
    public var inboundBytesPerDecodedValue = 64
    /// Sustained bytes per second read from all the room sockets of one client address together
    /// (default 16 MiB, eight connections at ``inboundBytesPerSecond``; 0: no limit), counted as
    /// each connection's own budget is, plus ``bytesChargedPerFrame`` for each frame. An address
    /// may hold hundreds of connections, each with its own budget: without this one, 32 of them
    /// flooding took 85 % of the server's core. Past it none of that address's connections reads
    /// more until the budget has refilled. A player sends ~25 KB a second by this count, a host
    /// ~150 KB as a game starts, so a school's hundred players behind one address fit then; a host
    /// tracking ~100 enemies (2,000 state messages a second) sends ~800 KB, and past ~20 such rooms
    /// behind one address all its players wait.
    public var inboundBytesPerSecondPerAddress = 16 << 20
    /// The least each room socket may still read a second, counted as the address's budget is,
    /// while its event loop falls behind (default 64 KiB; 0: never capped). Every connection
    /// within its budgets, 32 clients of as many addresses still took the whole core. While the
    /// loop is late, every connection on it is capped, the cap halving until the loop catches
    /// up, never below this, and growing back once it has: only those sending more than the cap
    /// are slowed. A player sends ~25 KB a second by this count, a host ~150 KB as a game starts.
    public var busyLoopInboundBytesPerSecond = 64 << 10
    /// What each frame costs the byte budgets of the address and of a busy loop beyond its
    /// bytes: the loop's fixed work for a message (read, dispatch, the room's step), ~1.8 µs for
    /// the game's 130-byte `player_state`, is what ~256 bytes of small JSON values cost
    /// (``inboundBytesPerDecodedValue``), so a flood of small messages buys no more of the loop
    /// than one of large ones. A frame no message budget pays for (a control frame, a fragment
    /// but a message's last) costs the connection's own byte budget as much again.
    public static let bytesChargedPerFrame = 256
    /// Values of one message its bytes pay for (``inboundBytesPerDecodedValue``): more than a game
    /// message has (an `enemy_state` ~10, a `player_state` ~15), so play is never charged for them.
    public static let decodedValuesPaidByBytes = 32

    /// What a message decoded into `valueCount` JSON values costs of the byte budget beyond its bytes.
    public func bytesCharged(forDecodedValues valueCount: Int) -> Int {
        max(0, valueCount - Self.decodedValuesPaidByBytes) * self.inboundBytesPerDecodedValue
    }
    /// Rooms one connection may enter per second (`create_room`, `join_room`, `reconnect`), on
    /// average (default 1, in bursts of ``roomEntryBurst``); past it `rate_limited`. Entering a room
    /// and leaving it again costs the server ~80 µs, ten times a chat line: one connection
    /// creating and leaving rooms at its message budget kept 8 % of a core busy. A player enters a
    /// few rooms a game session.
    public var roomEntriesPerSecond = 1.0
    /// Rooms one connection may enter at once before ``roomEntriesPerSecond`` applies (default 10).
    public var roomEntryBurst = 10.0
    /// Outbound frames waiting for a slow client before it is disconnected (default 4,096). A
    /// guest receives 60 `player_state`s a second plus 20 `enemy_state`s per enemy the host
    /// tracks: ~3,000 a second with 150 enemies, so this is over a second's worth.
    public var outboundQueueFrames = 4_096
    /// Outbound bytes waiting for a slow client before it is disconnected (default 1 MiB): what a
    /// stalled client can pin, whatever the size of its frames, besides one larger frame at a
    /// time (so that no message is too large for every client).
    public var outboundQueueBytes = 1 << 20
    /// How long a message may wait for a client, in its outbound queue and then unacknowledged in
    /// its socket, before the client is disconnected as too slow (4000), checked four times a
    /// limit (default 10 s; zero: no limit). The caps in frames and bytes close a client that
    /// stalls in a busy room within seconds, but one carrying only a player's states (60 a
    /// second) only after a minute, its game long stale: closed, it may reconnect and gets the
    /// room as it is now. A quiet room's messages fit in the kernel's buffers, never reaching
    /// the queue: there the server asks the kernel what the client has acknowledged.
    public var outboundQueueAgeLimit: Duration = .seconds(10)
    /// Outbound bytes all slow clients' queues may hold together past
    /// ``outboundBytesEveryConnectionMayHold`` each (default 1 GiB); past it, a queue already
    /// beyond that which would grow is refused as one past its own cap (disconnected, 4000).
    /// Each queue caps its own, but a client may open connection after connection and stop
    /// reading them: without a total, 4,096 connections of one IPv6 /48 could pin 4 GiB.
    public var maxOutboundBytesPerServer = 1 << 30
    /// What every connection's queue may hold whatever the server's total, and the next frame
    /// past it, and while that frame waits what else fits in this beside it (default 128 KiB: two of a
    /// host's reads relayed at once, as a room on the guest's own loop relays a read before the
    /// guest's writer runs; some seconds of a player's states), so that clients filling the
    /// total cannot disconnect those that keep up; only the bytes above it count toward
    /// ``maxOutboundBytesPerServer``.
    public var outboundBytesEveryConnectionMayHold = 128 * 1024
    /// Players per room when `create_room` does not ask (default 2).
    public var defaultPlayersPerRoom = 2
    /// The most `max_players` a room may ask for (default 8).
    public var maxPlayersPerRoom = 8
    /// Live rooms on this server (default 10,000).
    public var maxRooms = 10_000
    /// Rooms one client address may have open that it created (default 128: the 256 connections
    /// an address may hold, in pairs; an IPv6 client's /48 may have ``siteFactor`` times this):
    /// without it, a few addresses holding rooms open could hold every room ``maxRooms`` allows,
    /// and everyone else's `create_room` would get `server_full`.
    public var maxRoomsPerAddress = 128
    /// How many times an address's limits an IPv6 client's site (its /48) has, for every
    /// per-address limit: a provider may route one customer many /64s.
    public static let siteFactor = 16
    /// Chat message length in Unicode code points (default 500).
    public var maxChatLength = 500
    /// `player_name` length in Unicode code points (default 32).
    public var maxNameLength = 32
    /// `room_name` length in Unicode code points (default 64).
    public var maxRoomNameLength = 64
    /// Coins one `enemy_killed` may drop (default 100).
    public var maxCoinReward = 100
    /// Tracked enemies, coins and power-ups per room, each (default 1,000).
    public var maxEntitiesPerRoom = 1_000
    /// Bytes of JSON one stored enemy, coin or power-up may take (default 2 KiB; the game's take
    /// ~250). Without it a host could grow an enemy by a new key with every `enemy_state`, and
    /// every `entities_sync` and `game_state` would carry it.
    public var maxEntityBytes = 2_048
    /// Bytes of JSON all of one room's enemies, coins and power-ups may hold together (default
    /// 1 MiB: the game's fullest room, with every list full, ~500 KB). Past it a spawn, or an
    /// update that grows an entity, is refused (`limit_exceeded`).
    public var maxEntityBytesPerRoom = 1 << 20
    /// The same for every room on the server together, with what the ids they remember hold
    /// (``rememberedIDBytesEveryRoomMayHold``) (default 1 GiB; each byte of JSON takes 1–8 in
    /// memory, strings least). Without it, a client creating rooms and filling each alone
    /// could take more memory than the machine has.
    public var maxEntityBytesPerServer = 1 << 30
    /// What every room may hold of those bytes whatever the server's total (default 128 KiB: a
    /// game's room holds some tens of KB), so that a client filling the total cannot stop other
    /// rooms' games; only the bytes above it count toward ``maxEntityBytesPerServer``.
    public var entityBytesEveryRoomMayHold = 128 * 1024
    /// What the ids every room remembers (collected coins and power-ups, departed enemies; ~90
    /// bytes each in memory) may hold whatever the server's total (default 128 KiB: some 1,400
    /// of the game's ids). Past it they count toward ``maxEntityBytesPerServer``, and a room that
    /// finds the total full forgets its oldest rather than refuse a collection.
    public var rememberedIDBytesEveryRoomMayHold = 128 * 1024
    /// Entries in each list of one `sync_entities` (default 1,000: a room's every enemy, or every
    /// coin, ``maxEntitiesPerRoom``; at 500 a host that had spawned 600 enemies had its sync refused).
    public var maxSyncListLength = 1_000
    /// How long a dropped player may reconnect (default 60 s).
    public var reconnectWindow: Duration = .seconds(60)
    /// How long a client the server is closing may take to answer the close frame, once it has
    /// been written to the socket (on Linux, once the kernel has delivered it), before the server
    /// hangs up; also how long a client the server is closing may go without taking any of what was
    /// queued before the close frame (default 1 s).
    public var closeGracePeriod: Duration = .seconds(1)
    /// How long a client the server is closing may take to read what was queued before the close
    /// frame, and the close frame, however steadily it reads (default 5 s, as an HTTP connection
    /// gets at a stop): one reading a trickle would otherwise hold its connection, and a stop, for
    /// as long as its queue lasts.
    public var closeDrainLimit: Duration = .seconds(5)
    /// How often the server pings each WebSocket client; one that has not answered the last
    /// ping by the next is closed with 1001 (default 30 s).
    public var pingInterval: Duration = .seconds(30)

    public init() {}
}
