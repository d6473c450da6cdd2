import NIOCore
import NIOHTTP1
import NIOWebSocket

/// Upgrades a connection to a room WebSocket. NIO's upgrader answers the handshake (the key,
/// the version, the accept hash); the pipeline after it is ours: NIO's frame encoder for what
/// the server sends, and no frame decoder, since ``RoomSocketHandler`` reads frames itself.
struct RoomSocketUpgrader<UpgradeResult: Sendable>: NIOTypedHTTPServerProtocolUpgrader {
    private let handshake: NIOTypedWebSocketServerUpgrader<UpgradeResult>
    private let open: @Sendable (any Channel, HTTPRequestHead) throws -> UpgradeResult

    var supportedProtocol: String { self.handshake.supportedProtocol }
    var requiredUpgradeHeaders: [String] { self.handshake.requiredUpgradeHeaders }

    /// - Parameters:
    ///   - shouldUpgrade: extra response headers, or nil to refuse the upgrade.
    ///   - open: puts the connection's handlers into the upgraded channel, on its event loop.
    init(
        shouldUpgrade: @escaping @Sendable (any Channel, HTTPRequestHead) -> EventLoopFuture<HTTPHeaders?>,
        open: @escaping @Sendable (any Channel, HTTPRequestHead) throws -> UpgradeResult
    ) {
        self.handshake = NIOTypedWebSocketServerUpgrader(
            shouldUpgrade: shouldUpgrade,
            // Never called: only the handshake of this upgrader is used.
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeFailedFuture(ChannelError.inappropriateOperationForState)
            })
        self.open = open
    }

    func buildUpgradeResponse(
        channel: any Channel, upgradeRequest: HTTPRequestHead, initialResponseHeaders: HTTPHeaders
    ) -> EventLoopFuture<HTTPHeaders> {
        self.handshake.buildUpgradeResponse(
            channel: channel, upgradeRequest: upgradeRequest, initialResponseHeaders: initialResponseHeaders)
    }

    func upgrade(channel: any Channel, upgradeRequest: HTTPRequestHead) -> EventLoopFuture<UpgradeResult> {
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(WebSocketFrameEncoder())
            return try self.open(channel, upgradeRequest)
        }
    }
}
