import NIOCore
import NIOHTTP1

/// Refuses a request whose `Host` RFC 9112 §3.2 says a server must answer with 400: an HTTP/1.1
/// request without one, any request with more than one, or one whose value is not a host and
/// port (RFC 3986 §3.2.2 characters: a space, `/` or `@` is not). The old backend's server (h11)
/// refused the first two. Left through, two `Host` lines meant two readings of one request: NIO's
/// conversion took the first for the room socket's Origin check and the trailing-slash redirect,
/// while a proxy in front may have gone by the other.
///
/// A refused request goes no further, nor does anything after it on the connection: it is
/// answered as a request that cannot be parsed (400, then the connection closes). A first request
/// raises ``Refusal``, which ``FirstRequestGuard`` answers saying why; a later one raises the parse
/// error NIO's decoder would, which hummingbird answers once the answers before it have gone.
///
/// It also drops `Expect` from an HTTP/1.0 request (``ExpectContinue``). It sits first after NIO's
/// HTTP decoder and leaves the pipeline at a room socket's upgrade, as the other HTTP handlers do.
final class HostHeaderCheck: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    /// A first request's `Host` is refused.
    struct Refusal: Error {}

    private var hasRefused = false
    private var isFirstHead = true

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !self.hasRefused else { return }
        guard case .head(var head) = self.unwrapInboundIn(data) else { return context.fireChannelRead(data) }
        defer { self.isFirstHead = false }
        guard Self.hasValidHost(head) else {
            self.hasRefused = true
            return context.fireErrorCaught(self.isFirstHead ? Refusal() : HTTPParserError.invalidHeaderToken)
        }
        if head.version == .http1_0, head.headers.contains(name: "expect") {
            // RFC 9110 §10.1.1: ignored in an HTTP/1.0 request, whose client may be sent no 100 Continue.
            head.headers.remove(name: "expect")
            context.fireChannelRead(self.wrapInboundOut(.head(head)))
        } else {
            context.fireChannelRead(data)
        }
        if self.isFirstHead, head.headers.contains(name: "upgrade") {
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    /// The decoder's own errors after a refusal are about bytes the connection will never act on.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !self.hasRefused else { return }
        context.fireErrorCaught(error)
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
