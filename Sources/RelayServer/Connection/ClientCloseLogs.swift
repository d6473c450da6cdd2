/// The connection closes a client can cause at will: each kind is logged at its level at most
/// once an interval, the others at debug (``WarningThrottle``). A line each would let a client
/// write the log at the rate it can open connections.
struct ClientCloseLogs: Sendable {
    /// Room sockets closed for flooding (notice).
    let flooding: WarningThrottle
    /// Room sockets closed for falling behind, their own outbound queue full (notice).
    let tooSlow: WarningThrottle
    /// Room sockets closed for leaving a ping unanswered, a dead path most often (notice).
    let pingUnanswered: WarningThrottle
    /// HTTP answers cut off, the client not taking them (info).
    let answerCutOff: WarningThrottle
    /// HTTP connections closed for bytes that made no request (info).
    let undecodedBytes: WarningThrottle

    init(interval: Duration) {
        self.flooding = WarningThrottle(interval: interval)
        self.tooSlow = WarningThrottle(interval: interval)
        self.pingUnanswered = WarningThrottle(interval: interval)
        self.answerCutOff = WarningThrottle(interval: interval)
        self.undecodedBytes = WarningThrottle(interval: interval)
    }
}
