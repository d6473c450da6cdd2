import Hummingbird

/// Which browser origins may call the API.
struct CORSPolicy: Sendable, Equatable {
    /// Origins allowed, with credentials (`ALLOWED_ORIGINS`).
    var allowedOrigins: [String]
    /// Any origin, answered with `*` and without credentials (`ALLOW_ALL_ORIGINS=true`).
    var allowAllOrigins: Bool

    static let defaultOrigins = ["http://localhost:3000", "http://localhost:5173"]
    /// What Starlette's `allow_methods=["*"]` allows a preflight to ask for, spelled so.
    static let allowedMethods = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"]

    /// The `Access-Control-Allow-Origin` value for `origin`, or `nil` when it is not allowed.
    func allowOriginValue(for origin: String) -> String? {
        if self.allowAllOrigins { return "*" }
        return self.allowedOrigins.contains(origin) ? origin : nil
    }

    /// Whether a WebSocket upgrade or request from `origin` is allowed.
    func allows(origin: String) -> Bool { self.allowOriginValue(for: origin) != nil }
}

/// CORS as the old backend's Starlette middleware did it: every answer but a preflight's gets
/// the allow-origin header (``CORSPreflightMiddleware``, lower down, answers preflights).
///
/// Unlike Starlette, an answer with `Retry-After` (a 429, a busy 503) lets the page read it
/// (`Access-Control-Expose-Headers`): it is not one of the headers a browser shows a script
/// unasked, and without it a game cannot back off as told.
///
/// Unlike Starlette, every answer says `Vary: Origin` when the allowed origins are a list, also
/// one to a request without an `Origin` or from a refused one: its allow-origin header depends
/// on the `Origin`, and a cache (the browser's own, for a boss image cached for a year) must not
/// hand an answer made without that header to a page that needs it.
struct CORSPolicyMiddleware<Context: RequestContext>: RouterMiddleware {
    let policy: CORSPolicy

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        var response = try await next(request, context)
        if request.isCORSPreflight {
            // Answered whole below, or refused on the way (429): a refusal lets no origin in.
            self.policy.addVaryOrigin(to: &response.headers)
        } else if let allowOrigin = request.headers[.origin].flatMap(self.policy.allowOriginValue(for:)) {
            self.policy.addOriginHeaders(to: &response.headers, allowOrigin: allowOrigin)
        } else {
            self.policy.addVaryOrigin(to: &response.headers)
        }
        return response
    }
}

extension CORSPolicy {
    func addOriginHeaders(to headers: inout HTTPFields, allowOrigin: String) {
        headers[.accessControlAllowOrigin] = allowOrigin
        if !self.allowAllOrigins {
            headers[.accessControlAllowCredentials] = "true"
        }
        if headers[.retryAfter] != nil {
            headers[.accessControlExposeHeaders] = "Retry-After"
        }
        self.addVaryOrigin(to: &headers)
    }

    /// Adds `Origin` to the answer's `Vary`, unless every origin gets the same `*`.
    func addVaryOrigin(to headers: inout HTTPFields) {
        guard !self.allowAllOrigins else { return }
        guard let vary = headers[.vary] else {
            headers[.vary] = "Origin"
            return
        }
        let named = vary.split(separator: ",").map { $0.filter { $0 != " " && $0 != "\t" }.lowercased() }
        if !named.contains("origin") && !named.contains("*") {
            headers[.vary] = vary + ", Origin"
        }
    }
}
