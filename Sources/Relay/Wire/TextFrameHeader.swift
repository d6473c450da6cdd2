public import NIOCore

/// The header of a server's WebSocket text frame (final, unmasked), kept in the bytes just
/// before an outbound message's payload.
///
/// A server's frame is the same for every recipient, so a broadcast can carry its header from
/// the moment it is encoded, and each connection's writer sends header and payload as one
/// buffer instead of having NIO's frame encoder build a header per recipient.
/// ``OutboundMessage`` keeps ``headroom`` bytes free in front of its payload and rewrites the
/// header whenever the payload changes; ``framed(_:)`` finds it again.
public enum TextFrameHeader {
    /// Bytes kept free in front of a payload: room for the header of any payload under 64 KiB.
    public static let headroom = 4

    /// Writes the header for `buffer`'s readable bytes just before its reader index, when it
    /// fits in the bytes there.
    static func write(into buffer: inout ByteBuffer) {
        let start = buffer.readerIndex
        let length = buffer.readableBytes
        if length < 126, start >= 2 {
            buffer.setInteger(UInt16(0x81_00) | UInt16(length), at: start - 2)
        } else if length <= Int(UInt16.max), start >= 4 {
            buffer.setInteger(UInt32(0x817E_0000) | UInt32(length), at: start - 4)
        }
    }

    /// `payload` with its frame header in front, when the bytes before it are exactly that
    /// header; nil otherwise (then the frame encoder must write one).
    ///
    /// Checking the bytes rather than trusting where the buffer came from keeps this safe for any
    /// buffer: whatever put them there, bytes equal to the right header are the right header.
    public static func framed(_ payload: ByteBuffer) -> ByteBuffer? {
        let start = payload.readerIndex
        let length = payload.readableBytes
        var framed = payload
        if length < 126 {
            guard start >= 2 else { return nil }
            framed.moveReaderIndex(to: start - 2)
            guard framed.getInteger(at: start - 2, as: UInt16.self) == UInt16(0x81_00) | UInt16(length) else {
                return nil
            }
        } else if length <= Int(UInt16.max) {
            guard start >= 4 else { return nil }
            framed.moveReaderIndex(to: start - 4)
            guard framed.getInteger(at: start - 4, as: UInt32.self) == UInt32(0x817E_0000) | UInt32(length) else {
                return nil
            }
        } else {
            return nil
        }
        return framed
    }
}
