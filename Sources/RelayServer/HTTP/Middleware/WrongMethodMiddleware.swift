import Hummingbird

/// Answers 405 with `Allow` when a route exists for the path but not for the method, as FastAPI
/// does; hummingbird's router answers 404 for both.
///
/// Add it after every route: a router middleware added then wraps only the answer for requests
/// no route took (hummingbird builds each route's middleware stack when the route is added).
struct WrongMethodMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Each route's path and method (`RouteDescription` itself is not `Sendable`).
    private let routes: [(path: RouterPath, method: HTTPRequest.Method)]

    init(routes: [Router<Context>.RouteDescription]) {
        self.routes = routes.map { ($0.path, $0.method) }
    }

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let allowed = self.methods(forPath: request.uri.path)
            guard !allowed.isEmpty else { throw error }
            throw APIError.methodNotAllowed(allowed: allowed)
        }
    }

    /// The methods of the route the router would pick for `path` (split as the router splits it;
    /// where a literal segment and a parameter both match, the literal wins), in a stable order.
    func methods(forPath path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/")
        let matching = self.routes.filter { route in
            route.path.count == segments.count && zip(route.path, segments).allSatisfy { $0 ~= $1 }
        }
        guard
            let chosen = matching.map({ Self.literalSegments(of: $0.path) }).max(by: {
                $0.lexicographicallyPrecedes($1)
            })
        else { return [] }
        var methods = Set(matching.filter { Self.literalSegments(of: $0.path) == chosen }.map(\.method))
        if methods.contains(.get) { methods.insert(.head) }  // answered by the router's HEAD endpoints
        return methods.sorted { $0.rawValue < $1.rawValue }
    }

    /// 1 for each segment of `path` that is literal text, 0 for a parameter or wildcard.
    private static func literalSegments(of path: RouterPath) -> [Int] {
        path.map { $0 == $0.description ? 1 : 0 }
    }
}
