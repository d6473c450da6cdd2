import Handlers
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket
import Logging
import Relay

/// `/ws/room/{room_id}`: the WebSocket relay, with the Origin check on the upgrade.
struct RoomSocketRoutes {
    let dispatcher: MessageDispatcher
    let registry: RoomRegistry
    let cors: CORSPolicy

    /// The router consulted for upgrade requests only.
    func webSocketRouter() -> Router<RelayRequestContext> {
        let router = Router(context: RelayRequestContext.self)
        router.ws("/ws/room/{room_id}") { request, _ in
            self.acceptsOrigin(of: request) ? .upgrade([:]) : .dontUpgrade
        } onUpgrade: { inbound, outbound, context in
            let roomID = context.requestContext.parameters.get("room_id") ?? "new"
            let socket = RoomSocket(
                dispatcher: self.dispatcher, registry: self.registry, roomID: roomID,
                channel: context.requestContext.channel, logger: context.logger)
            await socket.run(inbound: inbound, outbound: outbound)
        }
        return router
    }

    /// Plain-HTTP answers on the same paths: a refused upgrade, and the room lists.
    func register(on router: Router<BasicRequestContext>) {
        router.get("/ws/room/{room_id}") { request, _ -> Response in
            throw self.acceptsOrigin(of: request) ? APIError.upgradeRequired : APIError.originNotAllowed
        }
        router.get("/api/rooms") { _, _ in self.roomList(joinableOnly: true) }
        router.get("/api/rooms/all") { _, _ in self.roomList(joinableOnly: false) }
    }
}

extension RoomSocketRoutes {
    /// `room_info` of the live rooms, written with the relay's own JSON writer.
    func roomList(joinableOnly: Bool) -> Response {
        var writer = JSONWriter()
        writer.write(.array(self.registry.roomInfos(joinableOnly: joinableOnly)))
        return JSONResponse.raw(writer.buffer)
    }

    /// The check stops a browser on a foreign page from opening a socket here. A browser
    /// always sends an `http(s)` (or `null`) `Origin`; it must be an allowed origin or this
    /// server itself (its host and port equal to the `Host` the request was sent to).
    /// Requests without `Origin`, or with another scheme (`ws://…` from client libraries),
    /// do not come from a web page and pass.
    func acceptsOrigin(of request: Request) -> Bool {
        guard let origin = request.headers[.origin] else { return true }
        if self.cors.allows(origin: origin) { return true }
        guard let schemeEnd = origin.range(of: "://") else { return false }  // "null" and garbage
        let scheme = origin[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return true }
        guard let host = request.head.authority else { return false }
        return origin[schemeEnd.upperBound...] == host[...]
    }
}
