import Hummingbird
import NIOCore

/// hummingbird's basic request context plus the client's address, which the per-address write
/// budget (``WriteBudgetMiddleware``) is kept by.
struct RelayRequestContext: RequestContext, RemoteAddressRequestContext {
    var coreContext: CoreRequestContextStorage
    let remoteAddress: SocketAddress?

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }
}
