import Hummingbird

/// Takes each write (any method but GET, HEAD and OPTIONS) from its client address's budget
/// (``WritesPerAddress``); past it the answer is 429 with `Retry-After`, and nothing is written.
struct WriteBudgetMiddleware<Context: RemoteAddressRequestContext>: RouterMiddleware {
    let writes: WritesPerAddress

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        switch request.method {
        case .get, .head, .options: break
        default:
            guard self.writes.take(from: context.remoteAddress) else {
                throw APIError.tooManyWrites(retryAfterSeconds: self.writes.retryAfterSeconds)
            }
        }
        return try await next(request, context)
    }
}
