/// What the server did to the bench's joined connections besides relaying: `error` messages, and
/// closes it started. Every report shows them, since a run the server cut short or refused
/// measured less than its figures seem to say.
struct ServerActions: Sendable, Equatable, Encodable {
    var errors = 0
    var firstError: String?
    var closes = 0
    var firstCloseCode: UInt16?

    init(errors: Int = 0, firstError: String? = nil, closes: Int = 0, firstCloseCode: UInt16? = nil) {
        (self.errors, self.firstError, self.closes, self.firstCloseCode) = (errors, firstError, closes, firstCloseCode)
    }

    /// What `events` counted so far.
    init(_ events: SocketEvents) {
        (self.errors, self.firstError) = (events.serverErrors, events.firstServerError)
        (self.closes, self.firstCloseCode) = events.serverCloses
    }

    /// "server errors 2, closed by the server 1".
    var summary: String { "server errors \(self.errors), closed by the server \(self.closes)" }

    /// The table's warnings, none when the server did neither; `closesAlreadyShown` of the closes
    /// were warned of already (those while sending in a window). `closed` names what was closed.
    func warnings(closesAlreadyShown: Int = 0, closed: String = "joined connections") -> [String] {
        var lines: [String] = []
        if self.errors > 0 {
            lines.append(
                "WARNING     the server sent \(self.errors) error messages to joined connections (first: "
                    + "\(self.firstError.map { String($0.prefix(160)) } ?? "?"))")
        }
        if self.closes > closesAlreadyShown {
            let code = self.firstCloseCode.map { "code \($0)" } ?? "no close code"
            lines.append(
                "WARNING     the server closed \(self.closes) \(closed) (first: \(code))"
                    + (closesAlreadyShown > 0
                        ? ", \(self.closes - closesAlreadyShown) of them outside a window's sends" : ""))
        }
        return lines
    }
}
