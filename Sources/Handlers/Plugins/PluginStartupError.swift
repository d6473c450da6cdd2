/// Why a plugin did not come up at start-up.
public struct PluginStartupError: Error, CustomStringConvertible, Sendable {
    public let plugin: PluginExecutable
    public let reason: String
    public var description: String { "plugin \(self.plugin.path): \(self.reason)" }
}

/// The server was asked to stop (SIGINT, SIGTERM) before it served; its plugins are stopped.
public struct PluginStartupInterrupted: Error, CustomStringConvertible, Sendable {
    public let signal: Int32
    public var description: String { "start-up interrupted by signal \(self.signal)" }
}
