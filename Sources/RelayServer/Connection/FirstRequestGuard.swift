import Foundation
import HTTPTypes
import NIOCore
import NIOHTTP1

/// Watches a connection's first request head, the only one that may upgrade it, so that only an
/// upgrade the server can make reaches NIO's upgrade handler: a WebSocket handshake as RFC 6455
/// asks for it (``isWebSocketUpgrade(_:)``), on a room socket's path. Any other request with
/// `Upgrade` (`h2c` from `curl --http2`, another WebSocket version, no key, a POST, another path)
/// loses that header and is answered as the plain request it also is (RFC 9110 §7.8 lets a server
/// ignore `Upgrade`), on a connection that then closes. NIO's typed upgrade handler would hand
/// such a request on without its head, and the router could not answer it.
///
/// It also answers a first request that cannot be parsed (hummingbird, which serves the requests
/// after it, does not for a first request).
///
/// It also closes a connection that has sent no request when the server stops.
///
/// It sits after ``RequestHeadRules`` and leaves the pipeline at the first head. (How long
/// the head may take is ``HTTPDeadlines``'s.)
final class FirstRequestGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    /// A first request was refused with 400: nothing read after it is acted on.
    private var hasRefused = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.hasRefused else { return }
        guard case .head(var head) = self.unwrapInboundIn(data) else {
            return context.fireChannelRead(data)
        }
        if head.asksToUpgrade, !Self.takesUpgrade(head) {
            head.headers.remove(name: "upgrade")
            // NIO's decoder took the request for an upgrade and reads no further request on this
            // connection: it ends after the answer.
            head.headers.replaceOrAdd(name: "connection", value: "close")
        }
        context.fireChannelRead(self.wrapInboundOut(.head(head)))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    /// Whether a first head asks for an upgrade the server makes: a WebSocket handshake on a room
    /// socket's path. Any other with `Upgrade` is answered as a plain request, then the connection closes.
    static func takesUpgrade(_ head: HTTPRequestHead) -> Bool {
        head.asksToUpgrade && Self.isWebSocketUpgrade(head) && RoomSocketRoutes.roomID(inPath: head.uri) != nil
    }

    /// The server is stopping and this connection has not sent a whole first head: nothing is in
    /// flight, so it closes now. No handler after this one is there yet to hear of the stop
    /// (hummingbird's joins at the first request), and the stop waited for the request deadline
    /// (30 s) whenever a browser had opened a connection ahead of need.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else { return context.fireUserInboundEventTriggered(event) }
        context.close(promise: nil)
    }

    /// A request NIO's decoder cannot parse (a malformed request line or header, a raw non-ASCII
    /// target, `Content-Length` with `Transfer-Encoding`), or whose head ``RequestHeadRules``
    /// refused, before any head got through: nothing downstream would answer it, and the
    /// connection would wait for its deadline. It gets 400 and is closed, as hummingbird treats the
    /// same error in a later request. Its output closes after the 400, and the whole connection a
    /// moment later (``ChannelHandlerContext/closeOutputThenLinger(promise:)``): the first read takes only
    /// 512 bytes (``SmallReadBufferChannel``), so a client still sending its body had the 400 reset.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !self.hasRefused else { return }  // the decoder's, about bytes after the refusal
        let answer: ErrorBody
        switch error {
        case is HTTPParserError: answer = APIError.unreadableBody.body
        case let refusal as RequestHeadRules.Refusal: answer = ErrorBody(detail: .message(refusal.detail))
        default: return context.fireErrorCaught(error)
        }
        let body = JSONResponse.encode(answer)
        // The security headers are every answer's (PROTOCOL.md §1). This one's path is unknown
        // (or, refused by the rules, not worth trusting): it gets those of `/api/` too.
        let fields = JSONResponse.closingRefusalHeaders(length: body.readableBytes, path: nil)
        let headers = HTTPHeaders(fields.map { ($0.name.rawName, $0.value) })
        let head = HTTPResponseHead(version: .http1_1, status: .badRequest, headers: headers)
        self.hasRefused = true
        context.write(self.wrapOutboundOut(.head(head)), promise: nil)
        context.write(self.wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
        context.closeOutputThenLinger()
    }

    /// A request NIO's upgrader may answer with 101 (RFC 6455 §4.2.1): a GET of HTTP/1.1 or later
    /// with `Upgrade: websocket`, an `Upgrade` token in `Connection`, one `Sec-WebSocket-Key` that is
    /// a base64 16-byte nonce and `Sec-WebSocket-Version: 13`, and no body. NIO checks only the
    /// version and that there is a key: it switched a POST, an HTTP/1.0 request or one without
    /// `Connection: Upgrade` (whose bytes after the head were then lost), and one with a body
    /// switched, then hung up; an empty key was hung up on unanswered.
    ///
    /// Values are compared byte by byte: ``HTTPRequestPacer`` asks before ``RequestHeadRules`` has
    /// refused a value Swift's string comparison would take quadratic time over.
    static func isWebSocketUpgrade(_ head: HTTPRequestHead) -> Bool {
        let keys = head.headers["sec-websocket-key"]
        let versions = head.headers["sec-websocket-version"]
        return head.method == .GET && (head.version.major, head.version.minor) >= (1, 1)
            && head.headers["upgrade"].contains { $0.listsASCII(caseInsensitively: "websocket") }
            && head.headers["connection"].contains { $0.listsASCII(caseInsensitively: "upgrade") }
            && keys.count == 1 && Data(base64Encoded: keys[0])?.count == 16
            && versions.count == 1 && versions[0].utf8.elementsEqual("13".utf8)
            && !head.headers.contains(name: "transfer-encoding")
            && head.headers["content-length"].allSatisfy { Int($0) == 0 }
    }
}

extension StringProtocol {
    /// Whether the text is `lowercase` (ASCII, in lower case) in any case, compared byte by byte:
    /// not as Swift compares strings (and splits them, as NIO's `canonicalForm` does), which first
    /// puts runs of combining marks in order.
    func isASCII(caseInsensitively lowercase: String) -> Bool {
        Self.equal(self.utf8, lowercase)
    }

    /// Whether the text, a header's comma-separated list, holds `lowercase` (ASCII, in lower case)
    /// in any case, spaces and tabs around it aside: byte by byte, as ``isASCII(caseInsensitively:)``.
    /// Not in a list with any other byte than ASCII: NIO's upgrade handler splits lists by
    /// characters, so a comma that a combining mark follows is no comma to it, and the two would
    /// disagree about what the client asked for (a connection that asked for the WebSocket to
    /// this check, and for no protocol NIO knows, was left with no handler to answer or time it).
    func listsASCII(caseInsensitively lowercase: String) -> Bool {
        guard !self.utf8.contains(where: { $0 >= 0x80 }) else { return false }
        return self.utf8.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false).contains { element in
            let isBlank = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
            let start = element.firstIndex { !isBlank($0) } ?? element.endIndex
            let end = element.lastIndex { !isBlank($0) }.map { element.index(after: $0) } ?? start
            return Self.equal(element[start..<end], lowercase)
        }
    }

    private static func equal(_ bytes: some Collection<UInt8>, _ lowercase: String) -> Bool {
        bytes.elementsEqual(lowercase.utf8) { byte, expected in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 == expected : byte == expected
        }
    }
}
