import Foundation
import Hummingbird

/// Builds `application/json` responses.
enum JSONResponse {
    /// Encodes `value` with snake_case keys already spelled by the types themselves.
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try JSONEncoder().encode(value)
        return self.raw(ByteBuffer(bytes: data), status: status)
    }

    /// A literal JSON document such as `null`.
    static func raw(_ json: ByteBuffer, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status,
            headers: [.contentType: "application/json", .contentLength: "\(json.readableBytes)"],
            body: ResponseBody(byteBuffer: json)
        )
    }

    /// `{"message": text}`, the shape of the API's plain acknowledgements.
    static func message(_ text: String) throws -> Response {
        try self.make(["message": text])
    }
}
