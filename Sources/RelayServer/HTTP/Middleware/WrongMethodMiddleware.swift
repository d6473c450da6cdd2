import Hummingbird

/// Answers 405 with `Allow` when a route exists for the path but not for the method, as FastAPI
/// does; hummingbird's router answers 404 for both.
///
/// Add it after every route: a router middleware added then wraps only the answer for requests
/// no route took (hummingbird builds each route's middleware stack when the route is added).
struct WrongMethodMiddleware<Context: RequestContext>: RouterMiddleware {
    /// A route's path, one entry per segment: the literal segment, or nil for a `{parameter}`.
    private let routes: [(segments: [Substring?], method: HTTPRequest.Method)]

    init(routes: [Router<Context>.RouteDescription]) {
        self.routes = routes.map { route in
            let segments = route.path.map { element -> Substring? in
                let text = element.description
                return text.hasPrefix("{") && text.hasSuffix("}") ? nil : Substring(text)
            }
            return (segments, route.method)
        }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
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

    /// The methods routed for `path`, in a stable order.
    func methods(forPath path: String) -> [HTTPRequest.Method] {
        let segments = path.split(separator: "/")
        let methods = self.routes.filter { route in
            route.segments.count == segments.count
                && zip(route.segments, segments).allSatisfy { literal, segment in literal.map { $0 == segment } ?? true }
        }.map(\.method)
        return Set(methods).sorted { $0.rawValue < $1.rawValue }
    }
}
