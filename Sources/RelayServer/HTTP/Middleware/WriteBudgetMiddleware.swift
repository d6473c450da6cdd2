import HTTPTypes
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
            let key = self.clients.key(
                ofPeer: context.remoteAddress, forwardedFor: request.headers[values: .xForwardedFor])
            guard self.writes.take(key: key) else {
                throw APIError.tooManyWrites(retryAfterSeconds: self.writes.retryAfterSeconds)
            }
        }
        return try await next(request, context)
    }
}

extension HTTPField.Name {
    /// The client each proxy saw, appended hop by hop (``ClientAddressPolicy``).
    static let xForwardedFor = Self("X-Forwarded-For")!
}
