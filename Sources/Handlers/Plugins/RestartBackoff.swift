/// The delays between a plugin's restarts: ``PluginSettings/minRestartDelay`` at first, doubling
/// up to ``PluginSettings/maxRestartDelay`` while the plugin keeps stopping soon after it started,
/// and the minimum again once an incarnation ran for ``PluginSettings/healthyRunTime``.
struct RestartBackoff {
    private let settings: PluginSettings
    private var nextDelay: Duration

    init(_ settings: PluginSettings) {
        self.settings = settings
        self.nextDelay = settings.minRestartDelay
    }

    /// The delay before the next start, for an incarnation that ran for `runTime`.
    mutating func delay(afterRunningFor runTime: Duration) -> Duration {
        if runTime >= self.settings.healthyRunTime { self.nextDelay = self.settings.minRestartDelay }
        defer { self.nextDelay = min(self.nextDelay * 2, self.settings.maxRestartDelay) }
        return self.nextDelay
    }
}
