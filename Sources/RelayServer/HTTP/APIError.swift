import Hummingbird
import Relay

/// Every error the HTTP API answers with, in one table: status and FastAPI-style `detail`. Outside
/// it are two 400s: a first request head that ``RequestHeadRules`` refuses says why in its own
/// words (``RequestHeadRules/Refusal``, answered by ``FirstRequestGuard``), and a later request
/// that cannot be parsed gets hummingbird's, without a body.
///
/// Messages are fixed text; nothing from the database or a stack trace reaches a client.
enum APIError: Error, Equatable {
    case invalidAPIKey
    case crossSiteRequest
    case navigationToAPI
    case playerNotFound
    case notFound
    case bossImageNotFound(index: Int64)
    /// The path is routed, for `allowed` methods only.
    case methodNotAllowed(allowed: [HTTPRequest.Method])
    /// A CORS preflight from an origin, or for a method, that is not allowed (`refused` names which).
    case corsPreflightRefused(refused: [String])
    case bodyTooLarge(limit: Int)
    /// The body broke off: its framing could not be parsed (a bad chunk size), or the client left.
    case unreadableBody
    case validation([ValidationIssue])
    case storageBusy
    /// The client's address has used its write budget (``RatePerAddress``).
    case tooManyWrites(retryAfterSeconds: Int)
    /// The client's address has been sent its budget of room lists (``RatePerAddress``), and is
    /// out of debt in this many seconds.
    case tooManyRoomLists(retryAfterSeconds: Int)
    /// A client behind a trusted proxy has made its budget of requests (``HTTPRequestBudget``), and
    /// has a token again in this many seconds.
    case tooManyRequests(retryAfterSeconds: Int)
    /// A room socket through a trusted proxy, for a client with the most connections allowed
    /// (``ConnectionsPerAddress``).
    case tooManyConnections
    case originNotAllowed
    case upgradeRequired
    case storageFull
    /// Full, found only by the commit's sync: the write may come back after a crash
    /// (``PersistenceError/diskFullAfterWriting``).
    case storageFullAfterWriting
    /// A commit's sync failed otherwise (an I/O error): the write may come back after a crash
    /// (``PersistenceError/storageFailureAfterWriting``). A 500, as any other failed store.
    case storageFailedAfterWriting
    /// The catch-all 500: any error the table has no entry for (``JSONErrorMiddleware``), a
    /// failed store, an unreadable boss image.
    case internalError

    var status: HTTPResponse.Status {
        switch self {
        case .invalidAPIKey, .crossSiteRequest, .navigationToAPI, .originNotAllowed: .forbidden
        case .upgradeRequired: .upgradeRequired
        case .playerNotFound, .notFound, .bossImageNotFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .unreadableBody, .corsPreflightRefused: .badRequest
        case .bodyTooLarge: .contentTooLarge
        case .validation: .unprocessableContent
        case .storageBusy, .storageFull, .storageFullAfterWriting: .serviceUnavailable
        case .tooManyWrites, .tooManyConnections, .tooManyRoomLists, .tooManyRequests: .tooManyRequests
        case .internalError, .storageFailedAfterWriting: .internalServerError
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
        case .bossImageNotFound(let index): .message("Boss image \(index) not found")
        case .methodNotAllowed: .message("Method Not Allowed")
        case .corsPreflightRefused(let refused): .message("Disallowed CORS \(refused.joined(separator: ", "))")
        case .bodyTooLarge(let limit): .message("Request body too large (limit \(limit) bytes)")
        case .unreadableBody: .message("Invalid HTTP request")
        case .validation(let issues): .issues(issues)
        case .storageBusy: .message("Server busy, try again shortly")
        case .tooManyWrites: .message("Too many writes from this address, try again shortly")
        case .tooManyConnections: .message("Too many connections from this address")
        case .tooManyRoomLists: .message("Too many room lists from this address, try again shortly")
        case .tooManyRequests: .message("Too many requests from this address, try again shortly")
        case .originNotAllowed: .message("WebSocket origin not allowed")
        case .upgradeRequired: .message("This path takes WebSocket connections only")
        case .storageFull: .message("Storage full, nothing was saved")
        case .storageFullAfterWriting: .message("Storage full, this write may or may not have been saved")
        case .storageFailedAfterWriting: .message("Storage failed, this write may or may not have been saved")
        case .internalError: .message("Internal server error")
        }
    }

    /// Headers the answer needs besides the body's: `Allow` on a 405 (RFC 9110 §15.5.6), the
    /// WebSocket version spoken on a 426 (RFC 6455 §4.4), when to try again after a 429 or a
    /// busy 503 (RFC 9110 §10.2.3; a full disk's has no such time).
    var headers: HTTPFields {
        switch self {
        case .methodNotAllowed(let allowed) where !allowed.isEmpty:
            [.allow: allowed.map(\.rawValue).joined(separator: ", ")]
        case .upgradeRequired: [.secWebSocketVersion: "13"]
        case .tooManyWrites(let seconds): [.retryAfter: "\(seconds)"]
        case .tooManyRoomLists(let seconds): [.retryAfter: "\(seconds)"]
        case .tooManyRequests(let seconds): [.retryAfter: "\(seconds)"]
        case .storageBusy: [.retryAfter: "1"]
        default: [:]
        }
    }

    /// The JSON body: `{"detail": …}`.
    var body: ErrorBody { ErrorBody(detail: self.detail) }
}

/// The JSON body of every error answer.
struct ErrorBody: OrderedJSON {
    let detail: ErrorDetail

    func write(to writer: inout JSONWriter) {
        writer.writeFragment("{\"detail\":")
        switch self.detail {
        case .message(let text):
            writer.writeString(text)
        case .issues(let issues):
            writer.writeFragment("[")
            // A body missing several fields is the input of each: sorted and written once.
            var lastInput: (value: JSONValue, json: ByteBuffer)?
            for (index, issue) in issues.enumerated() {
                if index > 0 { writer.writeFragment(",") }
                if lastInput?.value != issue.input {
                    var input = JSONWriter()
                    input.writeSorted(issue.input)
                    lastInput = (issue.input, input.buffer)
                }
                issue.write(to: &writer, input: lastInput!.json)
            }
            writer.writeFragment("]")
        }
        writer.writeFragment("}")
    }
}

/// FastAPI's `detail`: a message, or a list of validation issues.
enum ErrorDetail: Equatable {
    case message(String)
    case issues([ValidationIssue])
}

/// One entry of a 422 `detail` list, shaped and ordered like pydantic's: `type`, `loc`, `msg`,
/// `input`, and `ctx` when the rule has parameters.
struct ValidationIssue: Equatable {
    let type: String
    /// Path to the offending value, e.g. `["body", "score"]` or `["query", "limit"]`.
    let loc: [LocationComponent]
    let msg: String
    /// What was refused: the value, or the whole body when a field is missing.
    let input: JSONValue
    /// The rule's parameters, e.g. `["ge": 0]`; written with sorted keys, left out when empty.
    var ctx: [String: JSONValue] = [:]

    /// Writes the issue with `input` already written out (``JSONWriter/writeSorted(_:)``): an
    /// ``ErrorBody`` writes an input several issues share once.
    func write(to writer: inout JSONWriter, input: ByteBuffer) {
        writer.writeFragment("{\"type\":")
        writer.writeString(self.type)
        writer.writeFragment(",\"loc\":[")
        for (index, component) in self.loc.enumerated() {
            if index > 0 { writer.writeFragment(",") }
            switch component {
            case .key(let key): writer.writeString(key)
            case .index(let index): writer.writeInteger(Int64(index))
            }
        }
        writer.writeFragment("],\"msg\":")
        writer.writeString(self.msg)
        writer.writeFragment(",\"input\":")
        writer.writeRaw(input)
        if !self.ctx.isEmpty {
            writer.writeFragment(",\"ctx\":")
            writer.writeSorted(.object(self.ctx))
        }
        writer.writeFragment("}")
    }
}

/// A `loc` component: a key, or an index (FastAPI puts the JSON error offset there).
enum LocationComponent: Equatable, ExpressibleByStringLiteral {
    case key(String)
    case index(Int)

    init(stringLiteral value: String) { self = .key(value) }
}
