import Hummingbird
import Logging
import Persistence

/// Turns every error thrown below it into a JSON answer from the ``APIError`` table, so
/// the middleware above it (headers, CORS) sees an ordinary response.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch {
            let apiError = Self.apiError(for: error, logger: context.logger)
            var response = JSONResponse.make(apiError.body, status: apiError.status)
            response.headers.append(contentsOf: apiError.headers)
            return response
        }
    }

    static func apiError(for error: any Error, logger: Logger) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case let error as PersistenceError:
            switch error {
            case .overloaded, .shuttingDown, .locked, .readUnavailable: return .storageBusy
            case .diskFull: return .storageFull
            case .diskFullAfterWriting: return .storageFullAfterWriting
            case .storageFailureAfterWriting: return .storageFailedAfterWriting
            case .storageFailure: return .internalError
            }
        case let error as HTTPError:
            // The router's own (no route), and what hummingbird's helpers throw for bad input
            // (`request.decode`, `parameters.require`), should a route use them.
            switch error.status {
            case .notFound: return .notFound
            case .badRequest: return .unreadableBody
            default:
                logger.error("http.unexpected_error", metadata: ["error": "\(error)"])
                return .internalError
            }
        default:
            logger.error("http.unexpected_error", metadata: ["error": "\(error)"])
            return .internalError
        }
    }
}
