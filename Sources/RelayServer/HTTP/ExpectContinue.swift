import HTTPTypes
import HummingbirdCore
import NIOCore
import NIOHTTPTypes

/// `Expect: 100-continue` (RFC 9110 §10.1.1): a client that sends it waits for `100 Continue`
/// before it sends its body. The server sends one when a route starts reading the body, as the old
/// backend's uvicorn did; an answer decided before that (a bad key, an unknown route, a body
/// declared too large) goes out at once without it, and the client need not send its body at
/// all. hummingbird never answered the expectation: curl waited a second before sending, and a
/// client that waits for the `100` never sent its body and lost the request to the HTTP timeout.
/// (``RequestHeadRules`` drops the expectation from an HTTP/1.0 request, to which a server may
/// send no 1xx.)
enum ExpectContinue {
    static func answering(to responder: @escaping HTTPChannelHandler.Responder) -> HTTPChannelHandler.Responder {
        { request, writer, channel in
            guard Self.asksToContinue(request.headers[values: .expect]) else {
                return try await responder(request, writer, channel)
            }
            var request = request
            request.body = RequestBody(asyncSequence: BodyAfterContinue(body: request.body, channel: channel))
            try await responder(request, writer, channel)
        }
    }

    /// Whether `Expect` lines ask for `100 Continue`, the one expectation HTTP defines; others are
    /// ignored, as RFC 9110 lets a server do. Each line may list several (`#expectation`), and a
    /// client may send the header twice: one predicate for every handler that asks, so that none
    /// waits for a `100` another never sends.
    static func asksToContinue(_ lines: some Sequence<String>) -> Bool {
        lines.contains { line in
            line.split(separator: ",").contains { $0.withoutOptionalWhitespace.lowercased() == "100-continue" }
        }
    }

    /// A request body that asks the client for it (`100 Continue`) as it is first read.
    struct BodyAfterContinue: AsyncSequence, Sendable {
        typealias Element = ByteBuffer
        let body: RequestBody
        let channel: any Channel

        func makeAsyncIterator() -> Iterator {
            Iterator(body: self.body.makeAsyncIterator(), channel: self.channel)
        }

        struct Iterator: AsyncIteratorProtocol {
            var body: RequestBody.AsyncIterator
            /// Until the `100 Continue` has been sent.
            var channel: (any Channel)?

            mutating func next() async throws -> ByteBuffer? {
                if let channel = self.channel {
                    self.channel = nil
                    // The answers before this request have all been written (hummingbird answers
                    // one request at a time), so the 100 goes out after them.
                    try await channel.writeAndFlush(HTTPResponsePart.head(HTTPResponse(status: .continue)))
                }
                return try await self.body.next()
            }
        }
    }
}
