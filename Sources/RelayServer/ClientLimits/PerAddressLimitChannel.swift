import HummingbirdCore
import Logging
import NIOCore

/// A server child channel that closes a new connection at once when its address already has the
/// most connections allowed open, or has opened them too fast (``ConnectionsPerAddress``), before
/// reading anything from it: a refusal costs the server a fraction of what a connection does. A
/// trusted proxy's connections are not counted here: their room sockets are, by the client the
/// proxy names, at their upgrade (``RelayChildChannel``).
///
/// The refusal is a setup that succeeds with nothing to handle: a failed setup would be fired as
/// an error into the server channel's accept stream.
struct PerAddressLimitChannel<Base: ServerChildChannel>: ServerChildChannel {
    enum Value: ServerChildChannelValue {
        case accepted(Base.Value)
        case refused(any Channel)

        var channel: any Channel {
            switch self {
            case .accepted(let value): value.channel
            case .refused(let channel): channel
            }
        }
    }

    let base: Base
    let connections: ConnectionsPerAddress
    let clients: ClientAddressPolicy

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let key = self.clients.key(ofPeer: channel.remoteAddress)
        guard self.connections.admit(channel, key: key, logger: logger) else {
            channel.close(promise: nil)
            return channel.eventLoop.makeSucceededFuture(.refused(channel))
        }
        return self.base.setup(channel: channel, logger: logger).map { .accepted($0) }
    }

    func handle(value: Value, logger: Logger) async {
        guard case .accepted(let accepted) = value else { return }
        await self.base.handle(value: accepted, logger: logger)
    }
}
