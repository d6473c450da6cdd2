import Foundation
import NIOCore

/// The server under test: a loopback `ws://` URL.
struct BenchTarget: Sendable, Equatable {
    var host: String
    var port: Int
    /// Prefix before `/ws/room/…` (usually empty).
    var basePath: String

    /// Parses `ws://host:port[/base]` (or `http://`, the same server's address as a browser
    /// would give it; `wss://` and `https://` are refused: the bench speaks no TLS); only
    /// loopback hosts are accepted, so the tool never loads a machine it does not run on.
    init(url: String) throws(BenchError) {
        if let scheme = URLComponents(string: url)?.scheme?.lowercased(), scheme == "wss" || scheme == "https" {
            throw .invalidOption("relay-bench speaks no TLS: expected a ws://host:port URL, got \(url)")
        }
        guard let components = URLComponents(string: url), components.scheme == "ws" || components.scheme == "http",
            let host = components.host
        else {
            // Without a scheme it may be a mistyped scenario (`join_storm`), which the parser
            // took for the default scenario's URL.
            let hint = url.contains("://") ? "" : " (or a scenario: relay-bench --help lists them)"
            throw .invalidOption("expected a ws://host:port URL\(hint), got \(url)")
        }
        guard Self.isLoopback(host) else {
            throw .invalidOption("only loopback targets are allowed (127.0.0.0/8, localhost, ::1), got \(host)")
        }
        self.host = host
        self.port = components.port ?? 80
        self.basePath = components.path.hasSuffix("/") ? String(components.path.dropLast()) : components.path
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    /// The address to connect to (localhost resolves to 127.0.0.1).
    func socketAddress() throws -> SocketAddress {
        let ip =
            self.host == "localhost" ? "127.0.0.1" : self.host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return try SocketAddress(ipAddress: ip, port: self.port)
    }

    /// Whether the server is at an IPv4 address (127.0.0.0/8, or `localhost`): only then can the
    /// bench spread its connections over other source addresses (127.0.0.1…127.0.0.n). An IPv6
    /// loopback has one address, which 127.0.0.n sources cannot reach.
    var takesLoopbackSources: Bool {
        guard case .v4? = try? self.socketAddress() else { return false }
        return true
    }

    /// The `Host` header.
    var hostHeader: String {
        self.host.contains(":") && !self.host.hasPrefix("[")
            ? "[\(self.host)]:\(self.port)" : "\(self.host):\(self.port)"
    }
}

/// Something the bench cannot do as asked.
enum BenchError: Error, Equatable, CustomStringConvertible {
    case invalidOption(String)
    /// The server answered a room socket's upgrade with something other than 101.
    case upgradeRefused(path: String)
    case notEnoughFileDescriptors(needed: Int, soft: Int, hard: Int)

    var description: String {
        switch self {
        case .invalidOption(let text): text
        case .upgradeRefused(let path): "the server refused the WebSocket upgrade of \(path)"
        case .notEnoughFileDescriptors(let needed, let soft, let hard):
            "\(needed) connections need more open files than this process may have (soft \(soft), hard \(hard)); "
                + "raise it with `ulimit -n` (up to the hard limit) or run as a user allowed a higher one"
        }
    }
}
