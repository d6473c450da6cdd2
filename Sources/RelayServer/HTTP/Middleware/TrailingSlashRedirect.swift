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
/// The `Location` is Starlette's: `http://` and the `Host` header (only the path without one),
/// the path, and the query as sent, with characters outside Starlette's safe set
/// percent-encoded. One difference: Starlette builds it from the decoded path, which turns an
/// encoded `/` in a name into a real one (whose path then matches no route) and `%25` into a bare
/// `%`; the path is kept as the client encoded it here.
struct TrailingSlashRedirect<Context: RequestContext>: RouterMiddleware {
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
        if context.endpointPath != nil { return Self.redirect(to: target, of: request) }
        do {
            return try await next(request, context)
        } catch APIError.methodNotAllowed {
            // A route takes the path with other methods: Starlette redirects all the same.
            return Self.redirect(to: target, of: request)
        }
    }

    /// Starlette's `RedirectResponse`: 307, the location, an empty body and no content type.
    static func redirect(to path: Substring, of request: Request) -> Response {
        let location = StarletteLocation.of(host: request.head.authority, path: path, query: request.uri.query)
        return Response(status: .temporaryRedirect, headers: [.location: location, .contentLength: "0"])
    }
}

/// The `Location` of Starlette's redirects.
enum StarletteLocation {
    /// `http://host/path?query` (`/path?query` without a host), bytes outside Starlette's safe
    /// set percent-encoded.
    static func of(host: String?, path: Substring, query: String?) -> String {
        var url = host.map { "http://\($0)" } ?? ""
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
