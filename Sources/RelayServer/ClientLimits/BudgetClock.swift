/// Where a room socket's byte budgets (``InboundCharges``) read the time: the real clock, or in
/// tests one moved by hand beside `EmbeddedEventLoop`'s, so that a test repays a debt by moving
/// both clocks instead of sleeping through it.
struct BudgetClock: Sendable {
    let now: @Sendable () -> ContinuousClock.Instant

    /// The real clock.
    static let system = BudgetClock(now: { .now })
}
