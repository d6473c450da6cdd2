import Hummingbird

/// Takes each write (any method but GET, HEAD and OPTIONS) from its client address's budget
/// (``RatePerAddress``); past it the answer is 429 with `Retry-After`, and nothing is written.
/// The client is the one a trusted proxy names in `X-Forwarded-For` (``ClientAddressPolicy``).
struct WriteBudgetMiddleware<Context: RemoteAddressRequestContext>: RouterMiddleware {
    let writes: RatePerAddress
    let clients: ClientAddressPolicy

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        switch request.method {
        case .get, .head, .options: break
        default:
            guard self.writes.isLimiting else { break }
            guard self.writes.take(key: self.clients.key(of: request, context: context)) else {
                throw APIError.tooManyWrites(retryAfterSeconds: self.writes.retryAfterSeconds)
            }
        }
        return try await next(request, context)
    }
}
