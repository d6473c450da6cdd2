import HTTPTypes
import Handlers
import Hummingbird
import Logging
import NIOHTTP1
import Relay

/// `/ws/room/{room_id}`: which upgrades become room sockets (``RelayChildChannel``), with the
/// Origin check, and the plain-HTTP answer on that path.
struct RoomSocketRoutes {
    let dispatcher: MessageDispatcher
    let registry: RoomRegistry
    let cors: CORSPolicy

    /// A plain request on a room socket's path: the upgrade it needed, or why it would be refused.
    func register(on router: Router<RelayRequestContext>) {
        router.get("/ws/room/{room_id}") { request, _ -> Response in
            throw self.acceptsOrigin(of: request) ? APIError.upgradeRequired : APIError.originNotAllowed
        }
    }
}

extension RoomSocketRoutes {
    /// The check stops a browser on a foreign page from opening a socket here. A browser
    /// always sends an `http(s)` (or `null`) `Origin`; it must be an allowed origin or this
    /// server itself (its host and port equal to the `Host` the request was sent to).
    /// Requests without `Origin`, or with another scheme (`ws://…` from client libraries),
    /// do not come from a web page and pass.
    func acceptsOrigin(of request: Request) -> Bool {
        self.acceptsOrigin(request.headers[.origin], host: request.head.authority)
    }

    func acceptsOrigin(_ origin: String?, host: String?) -> Bool {
        guard let origin else { return true }
        if self.cors.allows(origin: origin) { return true }
        guard let schemeEnd = origin.range(of: "://") else { return false }  // "null" and garbage
        let scheme = origin[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return true }
        guard let host else { return false }
        return origin[schemeEnd.upperBound...] == host[...]
    }

    /// Why a WebSocket upgrade request may not become a room socket (its Origin, or its path:
    /// ``FirstRequestGuard`` already serves upgrades on other paths as plain requests, so this
    /// is a second check); nil when it may.
    func refusal(ofUpgrade head: HTTPRequestHead) -> APIError? {
        guard Self.roomID(inPath: head.uri) != nil else { return .notFound }
        guard self.acceptsOrigin(head.headers.first(name: "origin"), host: head.headers.first(name: "host")) else {
            return .originNotAllowed
        }
        return nil
    }

    /// The `{room_id}` of a request target `/ws/room/{room_id}` (query ignored); nil for any other path.
    /// A target in absolute form (`http://host/ws/room/…`), which RFC 9112 §3.2.2 has servers accept
    /// and the HTTP routes do, is read by its path.
    static func roomID(inPath target: String) -> String? {
        var path = target.prefix { $0 != "?" && $0 != "#" }
        if let authority = path.range(of: "://"), path[..<authority.lowerBound].allSatisfy(\.isLetter) {
            path = path[authority.upperBound...].drop { $0 != "/" }
        }
        guard path.hasPrefix(Self.pathPrefix) else { return nil }
        let roomID = path.dropFirst(Self.pathPrefix.count)
        guard !roomID.isEmpty, !roomID.contains("/") else { return nil }
        return String(roomID)
    }

    static let pathPrefix = "/ws/room/"

    /// The `{room_id}` a room socket keeps for its life (a `reconnect` without `room_id` looks
    /// for that room): `new` for none, or for one longer than any room code could be, which
    /// would find no room either; kept, a request head's worth (16 KiB) stayed with each socket.
    static func keptRoomID(inPath target: String) -> String {
        guard let roomID = Self.roomID(inPath: target), roomID.utf8.count <= Self.maxKeptRoomIDBytes else {
            return "new"
        }
        return roomID
    }

    /// Far more than a room code's 6 characters.
    static let maxKeptRoomIDBytes = 32
}
