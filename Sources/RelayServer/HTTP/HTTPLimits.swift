/// Bounds on HTTP clients: what one request may ask (body size, field lengths, leaderboard
/// length), how long a request may take to arrive and how fast an answer must be taken, and each
/// client address's budgets of requests, writes and room lists.
struct HTTPLimits: Sendable {
    /// Request bodies past this size get 413 (default 16 KiB: a score is ~200 bytes).
    var maxBodyBytes = 16 * 1024
    /// Player names, after trimming.
    var nameLength = 1...32
    /// `game_mode`, after trimming.
    var gameModeLength = 1...32
    /// `weapon` of a saved game, after trimming.
    var weaponLength = 1...64
    /// `limit` of the leaderboard is clamped to 1…this. The store answers up to its
    /// `inMemoryLeaderboardLength` (default 100) from memory; more would scan the table.
    var maxLeaderboardLimit = 100
    /// A connection is closed when its next request, head and body, has not arrived whole this long
    /// after the server began waiting for it (at the connection's start, once each answer has left
    /// its buffer): so silent or trickling sockets cannot pile up; and when no byte of an answer has
    /// left its buffer for this long (the client stopped reading). Room sockets are kept alive by
    /// their pings instead.
    var idleTimeout: Duration = .seconds(30)
    /// An answer still leaving the server this long after it started must have averaged at least
    /// ``minAnswerBytesPerSecond``, or its connection is closed: a client reading a trickle would
    /// otherwise hold a connection for as long as an 8 MiB image takes at that rate.
    var slowAnswerGrace: Duration = .seconds(10)
    /// 4 KiB/s (32 kbit/s): below what a bad mobile link (EDGE, a weak 3G signal) carries, so only
    /// clients that read on purpose this slowly are cut off; 8 MiB at this rate is 34 minutes.
    /// 0 judges no rate.
    var minAnswerBytesPerSecond = 4 * 1024
    /// Writes (scores, saves, deletes) each client address may make (`--writes-per-second-per-address`;
    /// default 10 a second, bursts of 60; loopback not counted).
    var writesPerAddress = RatePerAddress.Settings.writes(perSecond: 10)
    /// Bytes of room lists each client address may be sent a second (default 8 MiB, bursts of a
    /// second's worth; loopback not counted): past it `429`. A list of 5,000 rooms is 1.8 MB and
    /// costs ~0.6 ms to send, so one client asking in a loop kept a core busy; at this rate it
    /// keeps ~0.3 % of one. A list of a few rooms is a few KB: thousands a second.
    var roomListsPerAddress = RatePerAddress.Settings.roomLists(bytesPerSecond: 8 * 1024 * 1024)
    /// HTTP requests each client address may make a second (`--http-requests-per-second-per-address`;
    /// default 100, bursts of a minute's worth; loopback and trusted proxies not counted): past it
    /// its requests wait their turn (``HTTPRequestPacer``).
    var requestsPerAddress = RatePerAddress.Settings.requests(perSecond: 100)
}
