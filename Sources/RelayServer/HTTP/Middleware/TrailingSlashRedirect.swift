import HTTPTypes
import Hummingbird

/// Answers a path with trailing slashes (`/api/bosses/`) as FastAPI's router does: 307 to the path
/// without them when a route takes it, whatever the method, else 404. hummingbird's router
/// ignores a trailing slash and would serve the route, where FastAPI redirects before a route's
/// dependencies (its key check) run. (Starlette also redirects the other way, adding a slash when
/// that finds a route; no route here ends with one.)
///
/// It comes after the middleware FastAPI runs before routing (headers, CORS, the fetch-metadata
/// guard), so a redirect carries their headers and a cross-site write is refused before it.
///
/// The `Location` is Starlette's: `http://` (`https://` when a trusted proxy says so in
/// `X-Forwarded-Proto`, as uvicorn reads it) and the `Host` header (only the path without one),
/// the path, and the query as sent, with characters outside Starlette's safe set
/// percent-encoded. One difference: Starlette builds it from the decoded path, which turns an
/// encoded `/` in a name into a real one (whose path then matches no route) and `%25` into a bare
/// `%`; the path is kept as the client encoded it here.
struct TrailingSlashRedirect<Context: RemoteAddressRequestContext>: RouterMiddleware {
    let clients: ClientAddressPolicy

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        let path = request.uri.path
        guard path != "/", path.hasSuffix("/") else { return try await next(request, context) }
        let target = path.withoutTrailingSlashes
        // Room sockets are not HTTP routes in Starlette. (A path with an empty segment has had its
        // 404 from ``EmptyPathSegmentGuard``, which runs first.)
        guard !target.isEmpty, !target.hasPrefix(RoomSocketRoutes.pathPrefix) else {
            throw APIError.notFound
        }
        // The router matched a route for this method (it ignores the trailing slash).
        if context.endpointPath != nil { return self.redirect(to: target, of: request, context: context) }
        do {
            return try await next(request, context)
        } catch APIError.methodNotAllowed {
            // A route takes the path with other methods: Starlette redirects all the same.
            return self.redirect(to: target, of: request, context: context)
        }
    }

    /// Starlette's `RedirectResponse`: 307, the location, an empty body and no content type.
    func redirect(to path: Substring, of request: Request, context: Context) -> Response {
        let location = StarletteLocation.of(
            scheme: self.scheme(of: request, context: context), host: request.head.authority, path: path,
            query: request.uri.query)
        return Response(status: .temporaryRedirect, headers: [.location: location, .contentLength: "0"])
    }

    /// `https` when a trusted proxy's `X-Forwarded-Proto` is exactly that (uvicorn takes `http`
    /// and `https`, and ignores anything else, a list of several included), else `http`: behind a
    /// proxy that ends TLS, an `http://` location would send a browser off its secure page. Of
    /// several lines the last counts, as in uvicorn, which reads the headers into a dict.
    private func scheme(of request: Request, context: Context) -> String {
        guard let proto = request.headers[values: .xForwardedProto].last,
            self.clients.isTrustedProxy(context.remoteAddress)
        else {
            return "http"
        }
        return proto[...].withoutOptionalWhitespace == "https" ? "https" : "http"
    }
}

extension HTTPField.Name {
    /// The scheme the client used with the proxy that forwarded the request.
    static let xForwardedProto = Self("X-Forwarded-Proto")!
}

/// The `Location` of Starlette's redirects.
enum StarletteLocation {
    /// `scheme://host/path?query` (`/path?query` without a host), bytes outside Starlette's safe
    /// set percent-encoded.
    static func of(scheme: String = "http", host: String?, path: Substring, query: String?) -> String {
        var url = host.map { "\(scheme)://\($0)" } ?? ""
        url += path
        if let query, !query.isEmpty { url += "?\(query)" }
        var escaped: [UInt8] = []
        for byte in url.utf8 {
            if locationSafeBytes.contains(byte) {
                escaped.append(byte)
            } else {
                escaped += [UInt8(ascii: "%"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: escaped, as: UTF8.self)
    }
}

/// What Python's `quote(…, safe=":/%#?=@[]!$&'()*+,;")` leaves as it is, as Starlette's redirects use it.
private let locationSafeBytes = Set(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-~:/%#?=@[]!$&'()*+,;".utf8)
private let hexDigits = Array("0123456789ABCDEF".utf8)
