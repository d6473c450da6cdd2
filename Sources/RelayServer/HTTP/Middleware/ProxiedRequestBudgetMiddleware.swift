import Hummingbird

/// Takes each request that comes through a trusted proxy from the budget of the client the proxy
/// names (``HTTPRequestBudget``); past it the answer is 429 with `Retry-After`. Clients that
/// connect directly are paced on their connections instead (``HTTPRequestPacer``): a proxy's
/// connection carries many clients' requests, so holding it would make them all wait.
struct ProxiedRequestBudgetMiddleware<Context: RemoteAddressRequestContext>: RouterMiddleware {
    let requests: RatePerAddress
    let clients: ClientAddressPolicy

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        // A request naming no client first: every direct one, which costs a header lookup alone.
        if self.requests.isLimiting, request.headers.contains(.xForwardedFor),
            self.clients.isTrustedProxy(context.remoteAddress),
            !self.requests.take(key: self.clients.key(of: request, context: context))
        {
            throw APIError.tooManyRequests(retryAfterSeconds: self.requests.retryAfterSeconds)
        }
        return try await next(request, context)
    }
}
