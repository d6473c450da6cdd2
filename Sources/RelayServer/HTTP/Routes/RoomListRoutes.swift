import Hummingbird
import Relay

/// `/api/rooms` (rooms neither full nor started) and `/api/rooms/all`: the live rooms'
/// `room_info`, without an API key. Their bytes are spent from the client's budget; 429 while
/// that is in debt.
struct RoomListRoutes {
    let registry: RoomRegistry
    /// Bytes of room lists each client may be sent (``HTTPLimits/roomListsPerAddress``).
    let budget: RatePerAddress
    let clients: ClientAddressPolicy

    func register(on router: Router<RelayRequestContext>) {
        router.get("/api/rooms") { request, context in
            try self.roomList(joinableOnly: true, for: request, context)
        }
        router.get("/api/rooms/all") { request, context in
            try self.roomList(joinableOnly: false, for: request, context)
        }
    }

    private func roomList(joinableOnly: Bool, for request: Request, _ context: RelayRequestContext) throws -> Response {
        let list = self.registry.roomList(joinableOnly: joinableOnly)
        let client = self.clients.key(of: request, context: context)
        if let seconds = self.budget.spendUnlessInDebt(Double(list.readableBytes), key: client) {
            throw APIError.tooManyRoomLists(retryAfterSeconds: seconds)
        }
        return JSONResponse.raw(list)
    }
}
