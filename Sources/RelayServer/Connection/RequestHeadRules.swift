import NIOCore
import NIOHTTP1
import Relay

/// HTTP/1.1's rules for each request head, applied before anything reads it (RFC 9112, 9110):
///
/// - **`Host`** missing on HTTP/1.1, repeated, or not a host and port (a space, `/` or `@`) →
///   400 (§3.2): two `Host` lines are two readings of one request (NIO's for the Origin check, a
///   proxy's for routing).
/// - **`Transfer-Encoding`** other than one line of `chunked` alone → 400 (§6.3): the server
///   decodes no other coding, and a body without `chunked` last has no length. Read as NIO's
///   decoder reads it (`chunked` and a tab is not chunked to it). On HTTP/1.0 the header ends the
///   connection after the answer (§6.1: faulty framing).
/// - **`Connection: close`** in any form (`Close`, `keep-alive, close`), an HTTP/1.0 request
///   without keep-alive, and `CONNECT` (NIO reads nothing after one) become the exact `close`
///   hummingbird heeds (§9.6): else the client waited out the HTTP timeout for the end.
/// - **`Expect`** is dropped from an HTTP/1.0 request (``ExpectContinue``; RFC 9110 §10.1.1).
/// - **More than 30 combining marks in a row** in a value → 400: Swift compares such a string
///   (with `close`, `websocket`, an allowed `Origin`) only after an insertion sort of each run
///   (``CombiningMarkRuns``), ~30–90 ms for a 16 KiB head on the event loop.
///
/// A refused request goes no further, nor does anything after it on the connection: it is
/// answered, then the connection closes. A first request raises ``Refusal``, which
/// ``FirstRequestGuard`` answers saying why; a later one raises the parse error NIO's decoder
/// would, which hummingbird answers with an empty 400 once the answers before it have gone, and
/// the connection reads nothing more until then: NIO's decoder, in no error, went on with the
/// refused request's body, read as fast as it came (and dropped) for as long as an earlier answer
/// took. After the 400 it reads on a moment, and closes.
///
/// It leaves the pipeline at a room socket's upgrade, as the other HTTP handlers do (their
/// order: ``RelayChildChannel``).
final class RequestHeadRules: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

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
    /// A later request was refused: the connection reads nothing more. (After a first one,
    /// ``FirstRequestGuard`` reads on a moment, for what the client already sent.)
    private var stopsReading = false
    private var isFirstHead = true

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.hasRefused else { return }
        guard case .head(var head) = self.unwrapInboundIn(data) else { return context.fireChannelRead(data) }
        defer { self.isFirstHead = false }
        if let refusal = Self.refusal(of: head) {
            self.hasRefused = true
            self.stopsReading = !self.isFirstHead
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

    func read(context: ChannelHandlerContext) {
        guard !self.stopsReading else { return }
        context.read()
    }

    /// hummingbird has answered a refused later request and closes the output: once the answer
    /// has gone (``DrainBeforeClose`` holds the close until then, and an earlier answer may be a
    /// long download), the connection reads on a moment, dropping what comes (the refused
    /// request's body, still coming, which would otherwise reset the answer away), then closes
    /// whole, as after a refused first one. Left to the client's close, it lasted until the idle
    /// timeout.
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard self.stopsReading, mode == .output else { return context.close(mode: mode, promise: promise) }
        context.closeOutputThenLinger(promise: promise)  // its reads come from before this handler
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
        // `close` in a list is read as it (HTTP/1.0 with `keep-alive, close` is kept alive to llhttp).
        let endsConnection =
            !head.isKeepAlive || head.method == .CONNECT
            || head.headers["connection"].contains { $0.listsASCII(caseInsensitively: "close") }
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
