import NIOCore
import NIOHTTP1
import Relay

/// HTTP/1.1's rules for each request head, applied before anything reads it (RFC 9112, 9110):
///
/// - **`Host`.** A request without one on HTTP/1.1, with more than one, or whose value is not a
///   host and port (RFC 3986 §3.2.2 characters: a space, `/` or `@` is not) gets 400, as §3.2 asks.
///   The old backend's server (h11) refused the first two. Left through, two `Host` lines meant two
///   readings of one request: NIO's conversion took the first for the room socket's Origin check
///   and the trailing-slash redirect, while a proxy in front may have gone by the other.
/// - **`Transfer-Encoding`** other than one line of `chunked` alone gets 400, as the old backend's
///   server (h11) refused it: the server decodes no other coding, so a gzip-coded body would be
///   read as the JSON it is not, and a body coded without `chunked` last has no length a server
///   can tell (§6.3 asks for 400; §6.1 would allow 501 for `gzip, chunked`). NIO's decoder passed
///   such a head on before it failed, so a GET was served and a POST told its 3-byte body was
///   too large. The value is read as the decoder reads it: `chunked` and a tab is not chunked to
///   it (NIO's `canonicalForm` would trim the tab). An HTTP/1.0 request with the header, which
///   §6.1 has the server treat as faulty framing, ends its connection after the answer.
/// - **`Connection: close`** in any case or list (`Close`, `keep-alive, close`), and an HTTP/1.0
///   request that did not ask for keep-alive, become the exact `close` hummingbird looks for:
///   it kept such connections open, and a client reading to the end of the answer waited for the
///   HTTP timeout (§9.6 has the server close after the answer). So does a `CONNECT` (answered
///   404, a target no route takes): NIO's decoder reads nothing after one, and answers it without
///   a body or a length, so its client read on until the HTTP timeout closed the connection.
/// - **`Expect`** is dropped from an HTTP/1.0 request (``ExpectContinue``; RFC 9110 §10.1.1).
/// - **A header value with more than 30 combining marks in a row** gets 400: NIO takes any byte
///   over 0x7F in a value, and Swift compares such a string with any other (`close`,
///   `websocket`, an allowed `Origin`) only after sorting each run of marks, an insertion sort
///   (``CombiningMarkRuns``): ~30–90 ms for one 16 KiB head, on the connection's event loop and
///   in hummingbird's own handler. (``HTTPRequestPacer``, before this, compares bytes.)
///
/// A refused request goes no further, nor does anything after it on the connection: it is
/// answered, then the connection closes. A first request raises ``Refusal``, which
/// ``FirstRequestGuard`` answers saying why; a later one raises the parse error NIO's decoder
/// would, which hummingbird answers with an empty 400 once the answers before it have gone.
///
/// It leaves the pipeline at a room socket's upgrade, as the other HTTP handlers do (their
/// order: ``RelayChildChannel``).
final class RequestHeadRules: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    /// Why a first request is refused: the `detail` of ``FirstRequestGuard``'s 400.
    struct Refusal: Error, Equatable {
        let detail: String

        static let host = Refusal(detail: "Invalid HTTP request: it needs one Host header naming a host")
        static let transferCoding = Refusal(
            detail: "Invalid HTTP request: only Transfer-Encoding: chunked is supported")
        static let headerText = Refusal(
            detail:
                "Invalid HTTP request: a header value stacks more than \(CombiningMarkRuns.limit) combining marks in a row"
        )
    }

    private var hasRefused = false
    private var isFirstHead = true

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.hasRefused else { return }
        guard case .head(var head) = self.unwrapInboundIn(data) else { return context.fireChannelRead(data) }
        defer { self.isFirstHead = false }
        if let refusal = Self.refusal(of: head) {
            self.hasRefused = true
            return context.fireErrorCaught(self.isFirstHead ? refusal : HTTPParserError.invalidHeaderToken)
        }
        if Self.normalize(&head) {
            context.fireChannelRead(self.wrapInboundOut(.head(head)))
        } else {
            context.fireChannelRead(data)
        }
        if self.isFirstHead, head.asksToUpgrade {
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    /// The decoder's own errors after a refusal are about bytes the connection will never act on.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !self.hasRefused else { return }
        context.fireErrorCaught(error)
    }

    /// Puts a valid head's `Connection` and `Expect` in the form the handlers after it act on.
    /// - Returns: whether it changed the head.
    static func normalize(_ head: inout HTTPRequestHead) -> Bool {
        var changed = false
        let endsConnection =
            !head.isKeepAlive || head.method == .CONNECT
            || (head.version == .http1_0 && head.headers.contains(name: "transfer-encoding"))
        if endsConnection, head.headers["connection"] != ["close"] {
            head.headers.replaceOrAdd(name: "connection", value: "close")
            changed = true
        }
        if head.version == .http1_0, head.headers.contains(name: "expect") {
            // Ignored in an HTTP/1.0 request, whose client may be sent no 100 Continue.
            head.headers.remove(name: "expect")
            changed = true
        }
        return changed
    }

    /// Why `head` is refused, if it is.
    static func refusal(of head: HTTPRequestHead) -> Refusal? {
        if !Self.hasValidHost(head) { return .host }
        if head.headers.contains(where: { !Self.isBounded($0.value) }) { return .headerText }
        let codings = head.headers["transfer-encoding"]
        guard !codings.isEmpty else { return nil }
        let isChunkedAlone =
            codings.count == 1 && codings[0].split(separator: " ").map { $0.lowercased() } == ["chunked"]
        return isChunkedAlone ? nil : .transferCoding
    }

    /// Whether a header value's runs of combining marks are short: only a value with a byte over
    /// 0x7F can have any.
    private static func isBounded(_ value: String) -> Bool {
        !value.utf8.contains { $0 >= 0x80 } || CombiningMarkRuns.areBounded(value)
    }

    static func hasValidHost(_ head: HTTPRequestHead) -> Bool {
        let hosts = head.headers["host"]
        switch hosts.count {
        case 0: return (head.version.major, head.version.minor) < (1, 1)
        case 1: return hosts[0].utf8.allSatisfy(Self.isHostByte)
        default: return false
        }
    }

    /// A byte of `uri-host [":" port]`: unreserved, percent-encoding, sub-delims, and the colons
    /// and brackets of a port and an IPv6 literal. (An empty `Host` is allowed: RFC 9112 has a
    /// client send one when the target has no authority.)
    private static func isHostByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            "-._~%!$&'()*+,;=:[]".utf8.contains(byte)
        }
    }
}

extension HTTPRequestHead {
    /// Whether the head carries `Upgrade`. On a connection's first head, the HTTP handlers before
    /// NIO's upgrade handler leave the pipeline there: the connection may stop being HTTP.
    var asksToUpgrade: Bool { self.headers.contains(name: "upgrade") }
}
