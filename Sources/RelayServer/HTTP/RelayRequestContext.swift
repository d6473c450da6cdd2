import Hummingbird
import NIOCore

/// hummingbird's basic request context plus the peer's address: the per-address budgets of writes
/// (``WriteBudgetMiddleware``) and room lists (``RoomListRoutes``) are kept by it, and
/// ``TrailingSlashRedirect`` believes a trusted proxy's `X-Forwarded-Proto`.
struct RelayRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }
}
