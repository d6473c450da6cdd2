public import NIOCore
public import NIOWebSocket

/// Cuts the frames out of what one socket reads, in order, keeping a partial frame between reads.
public struct InboundFrameReader {
    /// The longest payload taken; a longer frame is refused from its header (1009).
    public let maxPayloadBytes: Int
    /// Bytes read and not cut into frames yet (and nothing before them): a partial frame, or
    /// whole frames left for later (`mayCut`).
    public private(set) var unparsed: ByteBuffer?

    public init(maxPayloadBytes: Int) {
        self.maxPayloadBytes = maxPayloadBytes
    }

    /// Hands each whole frame of what was kept and `bytes` to `handle`, in order, while it returns
    /// true, and keeps a partial frame for the next read. Returns the close code of a refused
    /// frame; nothing after it is read. `mayCut` is asked before each frame: false keeps the
    /// rest, uncut, for a later call (one with no bytes cuts it). `continuationRoom` says,
    /// before each frame, how long a continuation frame may be: what its message has left (nil:
    /// ``maxPayloadBytes``).
    /// `headerRefusal` judges each frame's first two bytes before its length (see
    /// ``InboundFrame/read(from:maxPayloadBytes:maxContinuationBytes:headerRefusal:)``).
    public mutating func read(
        _ bytes: ByteBuffer, mayCut: () -> Bool = { true }, continuationRoom: () -> Int? = { nil },
        headerRefusal: (_ firstByte: UInt8, _ secondByte: UInt8) -> WebSocketErrorCode? = { _, _ in nil },
        frame handle: (InboundFrame) -> Bool
    ) -> WebSocketErrorCode? {
        var bytes = bytes
        if var earlier = self.unparsed {
            self.unparsed = nil
            earlier.writeBuffer(&bytes)
            bytes = earlier
        }
        while bytes.readableBytes > 0 {
            guard mayCut() else {
                self.keep(&bytes)
                return nil
            }
            let room = continuationRoom()
            switch InboundFrame.read(
                from: &bytes, maxPayloadBytes: self.maxPayloadBytes, maxContinuationBytes: room,
                headerRefusal: headerRefusal)
            {
            case .frame(let frame):
                guard handle(frame) else { return nil }
            case .incomplete:
                self.keep(&bytes)
                return nil
            case .refused(let code):
                return code
            }
        }
        return nil
    }

    /// Drops what is kept: the connection reads no more.
    public mutating func discardUnparsed() {
        self.unparsed = nil
    }

    private mutating func keep(_ bytes: inout ByteBuffer) {
        guard bytes.readableBytes > 0 else { return }
        // A buffer grown by appending keeps its consumed front, which would grow with every read
        // that ends inside a frame: it goes once it is as long as what is left, not at each call
        // (frames left for later are cut one call at a time, and moving the rest for each was
        // quadratic: ~350 MB of copying for a read of 64 KiB of empty frames).
        if bytes.readerIndex >= bytes.readableBytes { bytes.discardReadBytes() }
        self.unparsed = bytes
    }
}
