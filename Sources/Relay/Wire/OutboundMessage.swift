public import NIOCore

/// Encodes one server message `{"type": …, …}` straight into bytes, `type` first.
///
/// Built once per message and sent as the same buffer to every recipient, with its WebSocket
/// frame header already in front of it (``TextFrameHeader``).
public struct OutboundMessage {
    private var writer: JSONWriter

    /// Starts a message of the given `type`.
    public init(type: String, capacity: Int = 128) {
        self.writer = JSONWriter(capacity: capacity, headroom: TextFrameHeader.headroom)
        self.writer.writeFragment("{\"type\":")
        self.writer.writeString(type)
        self.closeObject()
    }

    /// Adds a field; `roundingFloats` rounds every non-integral number inside to 2 decimals.
    public mutating func add(_ key: String, _ value: JSONValue, roundingFloats: Bool = false) {
        self.add(key) { writer in writer.write(value, roundingFloats: roundingFloats) }
    }

    /// Adds a field whose value `writeValue` writes straight into the message (it must write
    /// exactly one complete JSON value).
    public mutating func add<Failure: Error>(
        _ key: String, writing writeValue: (inout JSONWriter) throws(Failure) -> Void
    ) throws(Failure) {
        // The buffer always holds a complete object (so `encoded()` need not copy it to close it):
        // step back over the closing brace, add the field, close again.
        self.writer.removeLastByte()
        self.writer.writeFragment(",")
        self.writer.writeString(key)
        self.writer.writeFragment(":")
        try writeValue(&self.writer)
        self.closeObject()
    }

    /// Closes the object and puts the frame header for it in front.
    private mutating func closeObject() {
        self.writer.writeFragment("}")
        self.writer.writeTextFrameHeader()
    }

    /// Adds a string field.
    public mutating func add(_ key: String, _ value: String) {
        self.add(key, .string(value))
    }

    /// Adds an integer field.
    public mutating func add(_ key: String, _ value: Int) {
        self.add(key, .integer(Int64(value)))
    }

    /// Adds a boolean field.
    public mutating func add(_ key: String, _ value: Bool) {
        self.add(key, .bool(value))
    }

    /// The finished frame payload (the message's own buffer, not a copy).
    public func encoded() -> ByteBuffer {
        self.writer.buffer
    }

    /// A message already written out as JSON, `{"type":…,…}`, copied once into a buffer with
    /// its frame header in front: the same bytes ``encoded()`` gives for it built field by field.
    public static func encoded(json: UnsafeBufferPointer<UInt8>) -> ByteBuffer {
        var writer = JSONWriter(capacity: json.count, headroom: TextFrameHeader.headroom)
        writer.writeRaw(json)
        writer.writeTextFrameHeader()
        return writer.buffer
    }

    /// `{"type":"error","code":…,"message":…}`.
    public static func error(_ error: RelayError) -> ByteBuffer {
        var message = OutboundMessage(type: "error")
        message.add("code", error.code)
        message.add("message", error.message)
        return message.encoded()
    }

    /// A message with only fields given as (key, value) pairs, in order.
    public static func make(type: String, _ fields: KeyValuePairs<String, JSONValue>) -> ByteBuffer {
        var message = OutboundMessage(type: type)
        for (key, value) in fields { message.add(key, value) }
        return message.encoded()
    }
}
