#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

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

extension PluginExecutable {
    /// Why a script's `#!` line cannot start it, if that is why: `exec` then fails as if the
    /// script itself were missing ("not found or cannot be executed"), which sends its author
    /// looking at the wrong file. A script saved with Windows line endings names `/bin/sh\r`.
    func interpreterProblem() -> String? {
        guard let file = fopen(self.path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes = [UInt8](repeating: 0, count: 256)
        let count = fread(&bytes, 1, bytes.count, file)
        let line = bytes[..<count].prefix { $0 != UInt8(ascii: "\n") }
        guard line.starts(with: "#!".utf8) else { return nil }
        if line.contains(UInt8(ascii: "\r")) {
            return
                "its #! line ends in a carriage return: the file has Windows line endings (`sed -i 's/\\r$//'` removes them)"
        }
        let interpreter = String(decoding: line.dropFirst(2), as: UTF8.self).split(separator: " ").first.map(
            String.init)
        guard let interpreter, access(interpreter, X_OK) != 0 else { return nil }
        return "its #! interpreter \(interpreter) is not an executable file"
    }
}
