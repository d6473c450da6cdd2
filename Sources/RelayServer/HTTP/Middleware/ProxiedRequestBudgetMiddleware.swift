import Hummingbird

/// Takes each request that comes through a trusted proxy from the budget of the client the proxy
/// names (``HTTPRequestBudget``); past it the answer is 429 with `Retry-After`. Clients that
/// connect directly are paced on their connections instead (``HTTPRequestPacer``): a proxy's
/// connection carries many clients' requests, so holding it would make them all wait. A listed
/// proxy's request naming no client is warned of (``ClientAddressPolicy/warnIfProxyNamedNoClient(peer:forwardedFor:logger:)``),
/// and so is a proxy on this machine that is not listed (``ClientAddressPolicy/warnIfLoopbackProxyUnlisted(peer:logger:)``).
struct ProxiedRequestBudgetMiddleware<Context: RemoteAddressRequestContext>: RouterMiddleware {
    let requests: RatePerAddress
    let clients: ClientAddressPolicy

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        // A request naming no client first: every direct one, which costs a header lookup alone.
        guard request.headers.contains(.xForwardedFor) else {
            self.clients.warnIfProxyNamedNoClient(peer: context.remoteAddress, logger: context.logger)
            return try await next(request, context)
        }
        guard self.clients.isTrustedProxy(context.remoteAddress) else {
            self.clients.warnIfLoopbackProxyUnlisted(peer: context.remoteAddress, logger: context.logger)
            return try await next(request, context)
        }
        let forwardedFor = request.headers[values: .xForwardedFor]
        self.clients.warnIfProxyNamedNoClient(
            peer: context.remoteAddress, forwardedFor: forwardedFor, logger: context.logger)
        if self.requests.isLimiting,
            !self.requests.take(key: self.clients.key(ofPeer: context.remoteAddress, forwardedFor: forwardedFor))
        {
            throw APIError.tooManyRequests(retryAfterSeconds: self.requests.retryAfterSeconds)
        }
        return try await next(request, context)
    }
}
