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

/// CORS as the old backend's Starlette middleware did it: preflights answered directly
/// (the standard methods, the requested headers; another method or origin is a 400), simple
/// requests get the allow-origin header.
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
        let origin = request.headers[.origin]
        let allowOrigin = origin.flatMap(self.policy.allowOriginValue(for:))
        if origin != nil, request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            return self.preflightResponse(allowOrigin: allowOrigin, request: request)
        }
        var response = try await next(request, context)
        if let allowOrigin {
            self.addOriginHeaders(to: &response.headers, allowOrigin: allowOrigin)
        } else {
            self.addVaryOrigin(to: &response.headers)
        }
        return response
    }

    private func preflightResponse(allowOrigin: String?, request: Request) -> Response {
        let method = request.headers[.accessControlRequestMethod] ?? ""
        let refused = [
            allowOrigin == nil ? "origin" : nil, CORSPolicy.allowedMethods.contains(method) ? nil : "method",
        ].compactMap { $0 }
        guard let allowOrigin, refused.isEmpty else {
            let refusal = APIError.corsPreflightRefused(refused: refused)
            var response = JSONResponse.make(refusal.body, status: refusal.status)
            self.addVaryOrigin(to: &response.headers)
            return response
        }
        var headers: HTTPFields = [
            .accessControlAllowMethods: CORSPolicy.allowedMethods.joined(separator: ", "),
            .accessControlMaxAge: "600",
            .contentLength: "0",
        ]
        if let requested = request.headers[.accessControlRequestHeaders] {
            headers[.accessControlAllowHeaders] = requested
        }
        self.addOriginHeaders(to: &headers, allowOrigin: allowOrigin)
        return Response(status: .ok, headers: headers)
    }

    private func addOriginHeaders(to headers: inout HTTPFields, allowOrigin: String) {
        headers[.accessControlAllowOrigin] = allowOrigin
        if !self.policy.allowAllOrigins {
            headers[.accessControlAllowCredentials] = "true"
        }
        self.addVaryOrigin(to: &headers)
    }

    /// Adds `Origin` to the answer's `Vary`, unless every origin gets the same `*`.
    private func addVaryOrigin(to headers: inout HTTPFields) {
        guard !self.policy.allowAllOrigins else { return }
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
