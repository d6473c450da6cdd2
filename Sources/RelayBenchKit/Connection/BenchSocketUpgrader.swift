import NIOCore
import NIOHTTP1
import NIOWebSocket

/// Upgrades a bench connection. NIO's client upgrader does the handshake (the key sent, the
/// accept hash checked); the pipeline after it is the bench's: NIO's frame encoder (with the
/// ``ClientFrameOutlet`` in front of it) and no frame decoder, since ``BenchSocketHandler``
/// reads the server's frames itself.
struct BenchSocketUpgrader: NIOTypedHTTPClientProtocolUpgrader {
    private let handshake: NIOTypedWebSocketClientUpgrader<Bool>
    private let open: @Sendable (any Channel) throws -> Void

    var supportedProtocol: String { self.handshake.supportedProtocol }
    var requiredUpgradeHeaders: [String] { self.handshake.requiredUpgradeHeaders }

    /// - Parameter open: puts the connection's handlers into the upgraded channel, on its event loop.
    init(open: @escaping @Sendable (any Channel) throws -> Void) {
        self.handshake = NIOTypedWebSocketClientUpgrader(
            // Never called: only the handshake of this upgrader is used.
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeFailedFuture(ChannelError.inappropriateOperationForState)
            })
        self.open = open
    }

    func addCustom(upgradeRequestHeaders: inout HTTPHeaders) {
        self.handshake.addCustom(upgradeRequestHeaders: &upgradeRequestHeaders)
    }

    func shouldAllowUpgrade(upgradeResponse: HTTPResponseHead) -> Bool {
        self.handshake.shouldAllowUpgrade(upgradeResponse: upgradeResponse)
    }

    func upgrade(channel: any Channel, upgradeResponse: HTTPResponseHead) -> EventLoopFuture<Bool> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(WebSocketFrameEncoder())
            try self.open(channel)
            return true
        }
    }
}
