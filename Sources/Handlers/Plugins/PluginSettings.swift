/// How the server runs plugin processes. Every bound has a default a game can live with.
public struct PluginSettings: Sendable {
    /// How long a plugin may take to answer one message before the sender gets `plugin_timeout`.
    public var requestTimeout: Duration = .milliseconds(100)
    /// How long a request may still wait once its sender's connection has closed (its last
    /// messages still count, but a long timeout must not hold the player's departure or the stop).
    public var closedConnectionGrace: Duration = .seconds(1)
    /// How long a starting plugin may take to send its `hello` line.
    public var startupTimeout: Duration = .seconds(5)
    /// How long a plugin may take to exit after its stdin closes at shutdown, before it is killed.
    public var shutdownGracePeriod: Duration = .seconds(2)
    /// How long a plugin may run on once its stdout has closed (its last words on stderr, or
    /// state it saves at shutdown) before its group is killed; its exit ends the wait sooner.
    public var closedOutputGrace: Duration = .seconds(1)
    /// Requests waiting for one plugin's answers; beyond this, senders get `plugin_unavailable`.
    public var maxInFlight = 1024
    /// Request bytes waiting for a plugin to read its stdin; beyond this, senders get
    /// `plugin_unavailable` (a plugin that reads slowly, or not at all, cannot grow the server).
    public var maxQueuedInputBytes = 4 << 20
    /// Longest line a plugin may write; longer lines are discarded and logged.
    public var maxLineBytes = 1 << 20
    /// A plugin that owes answers and has answered nothing, not even late, for this many request
    /// timeouts (``silenceBeforeRestart``) counts as hung and is killed and restarted.
    public var timeoutsBeforeRestart = 5
    /// How long a plugin owing answers may answer nothing: ``timeoutsBeforeRestart`` request
    /// timeouts, at least a second (a garbage collector's pause is not a hang).
    public var silenceBeforeRestart: Duration {
        max(self.requestTimeout * self.timeoutsBeforeRestart, .seconds(1))
    }
    /// The first delay before restarting a plugin that stopped; it doubles up to ``maxRestartDelay``.
    public var minRestartDelay: Duration = .milliseconds(100)
    public var maxRestartDelay: Duration = .seconds(10)
    /// A plugin that ran at least this long before stopping restarts after ``minRestartDelay`` again.
    public var healthyRunTime: Duration = .seconds(10)
    /// How many more file descriptors the process may open, asked before each start
    /// (``FreeDescriptors``; a test scripts it).
    var freeDescriptors: @Sendable () -> Int? = FreeDescriptors.count

    public init() {}
}
