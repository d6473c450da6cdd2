import Logging
import NIOCore

/// The server channel's first handler: closes an accepted connection whose address
/// ``ConnectionsPerAddress`` would refuse, before it is registered on an event loop, set up, or
/// handed to a task of its own. Refused later, by ``PerAddressLimitChannel``, a connection still
/// cost the server ~0.13 ms of that work (three thread hand-offs among it), so a client opening
/// connections in a loop past its budget kept most of a core busy.
///
/// It only looks. A connection it lets through is counted, or refused, by
/// ``PerAddressLimitChannel``, which also sees those accepted before this handler is in place,
/// as the server starts.
final class PerAddressAcceptFilter: ChannelInboundHandler, Sendable {
    typealias InboundIn = any Channel
    typealias InboundOut = any Channel

    let connections: ConnectionsPerAddress
    let clients: ClientAddressPolicy
    let logger: Logger

    init(connections: ConnectionsPerAddress, clients: ClientAddressPolicy, logger: Logger) {
        (self.connections, self.clients, self.logger) = (connections, clients, logger)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let connection = Self.unwrapInboundIn(data)
        if let key = self.clients.key(ofPeer: connection.remoteAddress),
            let refusal = self.connections.refusal(of: key)
        {
            self.connections.logRefusal(of: key, refusal, logger: self.logger)
            connection.close(promise: nil)  // never registered: this only closes its socket
            return
        }
        context.fireChannelRead(data)
    }

    /// Installs the filter first in `serverChannel`'s pipeline.
    func install(on serverChannel: any Channel) async {
        do {
            try await serverChannel.pipeline.addHandler(self, position: .first).get()
        } catch {
            self.logger.warning("connections.accept_filter_not_installed", metadata: ["error": "\(error)"])
        }
    }
}
