import Hummingbird

/// Every error the HTTP API answers with, in one table: status and FastAPI-style `detail`.
///
/// Messages are fixed text; nothing from the database or a stack trace reaches a client.
enum APIError: Error, Equatable {
    case invalidAPIKey
    case crossSiteRequest
    case navigationToAPI
    case playerNotFound
    case notFound
    /// The path is routed, for `allowed` methods only.
    case methodNotAllowed(allowed: [HTTPRequest.Method])
    case bodyTooLarge(limit: Int)
    case validation([ValidationIssue])
    case storageBusy
    case originNotAllowed
    case upgradeRequired
    case storageFull
    case storageFailure

    var status: HTTPResponse.Status {
        switch self {
        case .invalidAPIKey, .crossSiteRequest, .navigationToAPI, .originNotAllowed: .forbidden
        case .upgradeRequired: .upgradeRequired
        case .playerNotFound, .notFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .bodyTooLarge: .contentTooLarge
        case .validation: .unprocessableContent
        case .storageBusy, .storageFull: .serviceUnavailable
        case .storageFailure: .internalServerError
        }
    }

    /// The `detail` value: a string, or the list of field issues for a 422.
    var detail: ErrorDetail {
        switch self {
        case .invalidAPIKey: .message("Invalid or missing API key")
        case .crossSiteRequest: .message("Cross-site request blocked")
        case .navigationToAPI: .message("Navigation requests to the API are not allowed")
        case .playerNotFound: .message("Player not found")
        case .notFound: .message("Not Found")
        case .methodNotAllowed: .message("Method Not Allowed")
        case .bodyTooLarge(let limit): .message("Request body too large (limit \(limit) bytes)")
        case .validation(let issues): .issues(issues)
        case .storageBusy: .message("Server busy, try again shortly")
        case .originNotAllowed: .message("WebSocket origin not allowed")
        case .upgradeRequired: .message("This path takes WebSocket connections only")
        case .storageFull: .message("Storage full, nothing was saved")
        case .storageFailure: .message("Internal server error")
        }
    }

    /// Headers the answer needs besides the body's: `Allow` on a 405 (RFC 9110 §15.5.6), the
    /// WebSocket version spoken on a 426 (RFC 6455 §4.4).
    var headers: HTTPFields {
        switch self {
        case .methodNotAllowed(let allowed) where !allowed.isEmpty: [.allow: allowed.map(\.rawValue).joined(separator: ", ")]
        case .upgradeRequired: [.secWebSocketVersion: "13"]
        default: [:]
        }
    }

    /// The JSON body: `{"detail": …}`.
    var body: ErrorBody { ErrorBody(detail: self.detail) }
}

/// The JSON body of every error answer.
struct ErrorBody: Encodable {
    let detail: ErrorDetail
}

/// FastAPI's `detail`: a message, or a list of validation issues.
enum ErrorDetail: Encodable, Equatable {
    case message(String)
    case issues([ValidationIssue])

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .message(let text): try container.encode(text)
        case .issues(let issues): try container.encode(issues)
        }
    }
}

/// One entry of a 422 `detail` list, shaped like pydantic's: `loc`, `msg`, `type`.
struct ValidationIssue: Encodable, Equatable {
    /// Path to the offending value, e.g. `["body", "score"]` or `["query", "limit"]`.
    let loc: [LocationComponent]
    let msg: String
    let type: String
}

/// A `loc` component: a key, or an index (FastAPI puts the JSON error offset there).
enum LocationComponent: Encodable, Equatable, ExpressibleByStringLiteral {
    case key(String)
    case index(Int)

    init(stringLiteral value: String) { self = .key(value) }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .key(let key): try container.encode(key)
        case .index(let index): try container.encode(index)
        }
    }
}
