import Hummingbird

/// Answers CORS preflights as Starlette did: the standard methods and the requested headers
/// for an allowed origin; another method or origin is a 400.
///
/// It sits below the proxied-request budget, so that a client behind a trusted proxy pays for
/// its preflights too, and below ``CORSPolicyMiddleware``, which leaves its answers alone.
struct CORSPreflightMiddleware<Context: RequestContext>: RouterMiddleware {
    let policy: CORSPolicy

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        guard request.isCORSPreflight else { return try await next(request, context) }
        let allowOrigin = request.headers[.origin].flatMap(self.policy.allowOriginValue(for:))
        return self.preflightResponse(allowOrigin: allowOrigin, request: request)
    }

    private func preflightResponse(allowOrigin: String?, request: Request) -> Response {
        let method = request.headers[.accessControlRequestMethod] ?? ""
        let refused = [
            allowOrigin == nil ? "origin" : nil, CORSPolicy.allowedMethods.contains(method) ? nil : "method",
        ].compactMap { $0 }
        guard let allowOrigin, refused.isEmpty else {
            let refusal = APIError.corsPreflightRefused(refused: refused)
            var response = JSONResponse.make(refusal.body, status: refusal.status)
            self.policy.addVaryOrigin(to: &response.headers)
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
        self.policy.addOriginHeaders(to: &headers, allowOrigin: allowOrigin)
        return Response(status: .ok, headers: headers)
    }
}

extension Request {
    /// An `OPTIONS` with an `Origin` and `Access-Control-Request-Method`, as Starlette tells one.
    var isCORSPreflight: Bool {
        self.method == .options && self.headers[.origin] != nil && self.headers[.accessControlRequestMethod] != nil
    }
}
