import Handlers
import NIOCore
import NIOWebSocket
import Relay

/// What a connection's ``InPlaceFrameHandler`` and its reader share. Both run on the
/// channel's event loop, so plain stored properties suffice.
final class InboundShare {
    /// The connection's rate limit, whichever of the two handles a message.
    var bucket: TokenBucket
    /// Messages handed on to the reader that it has not finished. While there are any, no
    /// message is handled in place, so that a client's messages are handled in the order sent.
    var messagesWithReader = 0
    /// Set while the reader has not yet seen ``readerSync``: what it reads until then arrived
    /// before the handler was installed (a client that writes its first messages right behind
    /// the upgrade request), was never counted, and must not be overtaken.
    var awaitingReaderSync = false
    /// The text of the message the handler passes down after whatever the reader already had
    /// when it was installed (in front of the next message to arrive): random, so no client can send it.
    let readerSync = String(UInt64.random(in: 1...UInt64.max), radix: 36)

    init(bucket: TokenBucket) {
        self.bucket = bucket
    }

    /// What the reader does with a message it has read: `sync` is the handler's marker (drop it),
    /// `counted` one the handler counted (count it off when done), `uncounted` one it never saw.
    enum ReaderMessage { case sync, counted, uncounted }

    /// Classifies the next message the reader has read, given its text if it is a text message.
    func readerReads(text: String?) -> ReaderMessage {
        guard self.awaitingReaderSync else { return .counted }
        guard text == self.readerSync else { return .uncounted }
        self.awaitingReaderSync = false
        self.messagesWithReader -= 1
        return .sync
    }
}

/// Handles a connection's hottest messages as their frames arrive, on the channel's event loop,
/// instead of handing them to the reader task: a `player_state` from a member of a room on this
/// loop is relayed in place (``MessageDispatcher/dispatchInPlace(_:session:)``), which saves
/// waking the reader, hummingbird's per-frame work and a task switch for every message.
///
/// Everything else goes on to the reader untouched: other types, fragmented messages, control
/// frames, a message while earlier ones still wait for the reader, one over the rate limit.
final class InPlaceFrameHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame

    private let dispatcher: MessageDispatcher
    private let session: ConnectionSession
    private let share: InboundShare
    /// Set from installation until the reader-sync marker has been passed down (see ``install``).
    private var markerPending = false

    init(dispatcher: MessageDispatcher, session: ConnectionSession, share: InboundShare) {
        self.dispatcher = dispatcher
        self.session = session
        self.share = share
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = self.unwrapInboundIn(data)
        if self.markerPending {
            // The rest of a message begun before installation, or a control frame: the reader's,
            // uncounted. The marker waits for the next message's first frame, never splitting one.
            guard frame.opcode == .text || frame.opcode == .binary else {
                context.fireChannelRead(data)
                return
            }
            self.markerPending = false
            self.passReaderSync(context: context)
        }
        if frame.opcode == .text, frame.fin, self.share.messagesWithReader == 0, self.session.membership != nil,
            self.share.bucket.take()
        {
            if Self.withUnmaskedPayload(of: frame, { self.dispatcher.dispatchInPlace($0, session: self.session) }) {
                return
            }
            self.share.bucket.giveBack()  // the reader takes its own
        }
        // The last frame of a data message completes one message for the reader.
        if frame.fin, frame.opcode == .text || frame.opcode == .binary || frame.opcode == .continuation {
            self.share.messagesWithReader += 1
        }
        context.fireChannelRead(data)
    }
}

extension InPlaceFrameHandler {
    /// Calls `body` with `frame`'s payload, unmasked into a temporary buffer (on the stack when
    /// small): the frame's own bytes stay as they are, for the reader if `body` declines.
    static func withUnmaskedPayload<Result>(
        of frame: WebSocketFrame, _ body: (UnsafeBufferPointer<UInt8>) -> Result
    ) -> Result {
        frame.data.withUnsafeReadableBytes { (masked: UnsafeRawBufferPointer) -> Result in
            guard let key = frame.maskKey else { return body(masked.assumingMemoryBound(to: UInt8.self)) }
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: masked.count) {
                (payload: UnsafeMutableBufferPointer<UInt8>) -> Result in
                Self.unmask(masked, with: key, into: UnsafeMutableRawBufferPointer(payload))
                return body(UnsafeBufferPointer(payload))
            }
        }
    }

    /// XORs `masked` with the repeating 4-byte `key` into `payload` (as long), 8 bytes at a time.
    static func unmask(
        _ masked: UnsafeRawBufferPointer, with key: WebSocketMaskingKey, into payload: UnsafeMutableRawBufferPointer
    ) {
        let keyBytes = (key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3])
        let wideKey = withUnsafeBytes(of: keyBytes) { $0.loadUnaligned(as: UInt64.self) }
        var index = 0
        while index + 8 <= masked.count {
            let word = masked.loadUnaligned(fromByteOffset: index, as: UInt64.self) ^ wideKey
            payload.storeBytes(of: word, toByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < masked.count {
            payload[index] = masked[index] ^ key[index & 3]
            index += 1
        }
    }

    /// Passes the reader-sync marker (``InboundShare/readerSync``) down to the reader.
    private func passReaderSync(context: ChannelHandlerContext) {
        let text = context.channel.allocator.buffer(string: self.share.readerSync)
        context.fireChannelRead(self.wrapInboundOut(WebSocketFrame(fin: true, opcode: .text, data: text)))
    }

    /// Puts the handler right after the WebSocket frame decoder of `channel`; false when the
    /// pipeline has no such decoder (then the reader handles every message, as before).
    /// Call on the channel's event loop.
    static func install(
        on channel: any Channel, dispatcher: MessageDispatcher, session: ConnectionSession, share: InboundShare
    ) -> Bool {
        let pipeline = channel.pipeline.syncOperations
        guard let decoder = try? pipeline.context(handlerType: ByteToMessageHandler<WebSocketFrameDecoder>.self) else {
            return false
        }
        let handler = InPlaceFrameHandler(dispatcher: dispatcher, session: session, share: share)
        guard (try? pipeline.addHandler(handler, position: .after(decoder.handler))) != nil else { return false }
        // Frames decoded before now went straight to the reader, uncounted. Until the reader has
        // caught up with them, which it shows by reading the marker passed down behind them (in
        // front of the next message), none is handled in place.
        share.awaitingReaderSync = true
        share.messagesWithReader += 1
        handler.markerPending = true
        return true
    }
}
