import Foundation
import Hummingbird
import Relay

/// Builds `application/json` responses.
enum JSONResponse {
    /// Encodes `value` with snake_case keys already spelled by the types themselves.
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        self.raw(try self.encode(value), status: status)
    }

    /// `value`, written in its own field order.
    static func make(_ value: some OrderedJSON, status: HTTPResponse.Status = .ok) -> Response {
        self.raw(self.encode(value), status: status)
    }

    /// `value` as JSON bytes, in its own field order.
    static func encode(_ value: some OrderedJSON) -> ByteBuffer {
        var writer = JSONWriter()
        value.write(to: &writer)
        return writer.buffer
    }

    /// `values` as a JSON array, each written in its own field order.
    static func make(_ values: [some OrderedJSON]) -> Response {
        var writer = JSONWriter(capacity: 256 * max(values.count, 1))
        writer.writeFragment("[")
        for (index, value) in values.enumerated() {
            if index > 0 { writer.writeFragment(",") }
            value.write(to: &writer)
        }
        writer.writeFragment("]")
        return self.raw(writer.buffer)
    }

    /// `value` as JSON bytes, the same bytes for the same value: keys sorted (Foundation's encoder
    /// otherwise orders them differently from one answer to the next) and `/` unescaped.
    static func encode(_ value: some Encodable) throws -> ByteBuffer {
        ByteBuffer(bytes: try self.encoder.encode(value))
    }

    private static let encoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// The headers of a JSON body of `length` bytes.
    static func headers(length: Int) -> HTTPFields {
        [.contentType: "application/json", .contentLength: "\(length)"]
    }

    /// The headers of a refusal of `length` bytes written outside the router, after which the
    /// server closes the connection: hummingbird adds neither the date nor the security headers
    /// (PROTOCOL.md §1) to those. A `path` of nil is one not known (a head that could not be
    /// parsed): the answer then gets the caching headers of `/api/` too, the strictest.
    static func closingRefusalHeaders(length: Int, path: String?) -> HTTPFields {
        var headers = self.headers(length: length)
        headers[.connection] = "close"
        headers[.date] = HTTPDate.header()
        SecurityHeaders.add(to: &headers, path: path ?? SecurityHeaders.apiPrefix)
        return headers
    }

    /// A literal JSON document such as `null`.
    static func raw(_ json: ByteBuffer, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: self.headers(length: json.readableBytes),
            body: ResponseBody(byteBuffer: json)
        )
    }

    /// `{"message": text}`, the shape of the API's plain acknowledgements.
    static func message(_ text: String) throws -> Response {
        try self.make(["message": text])
    }
}
