/// A plugin program the server starts: an executable file in the plugins folder, or one
/// named on the command line.
public struct PluginExecutable: Sendable, Hashable, CustomStringConvertible {
    /// Path of the program.
    public let path: String
    /// Extra arguments, if any.
    public let arguments: [String]

    public init(path: String, arguments: [String] = []) {
        self.path = path
        self.arguments = arguments
    }

    /// The file name, for logs.
    public var description: String { String(self.path.split(separator: "/").last ?? Substring(self.path)) }

    /// The path and the arguments: tells apart two plugins of one file name (a `guard.py` in the
    /// folder and another named with `--plugin`), where a start-up error must say which.
    public var command: String { ([self.path] + self.arguments).joined(separator: " ") }
}
