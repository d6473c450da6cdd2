import Synchronization

/// The outcome of a plugin's first start, awaited by the host before the server opens.
final class PluginReadiness: Sendable {
    private enum State {
        case waiting([CheckedContinuation<Result<PluginHello, PluginStartupError>, Never>])
        case done(Result<PluginHello, PluginStartupError>)
    }

    private let state = Mutex(State.waiting([]))
    private let startGroup: PluginStartGroup

    /// A readiness whose failure fails the first start of `startGroup`, the plugins started with it.
    init(startGroup: PluginStartGroup) {
        self.startGroup = startGroup
    }

    func wait() async throws(PluginStartupError) -> PluginHello {
        let result = await withCheckedContinuation { continuation in
            let done = self.state.withLock { state -> Result<PluginHello, PluginStartupError>? in
                switch state {
                case .done(let result): return result
                case .waiting(var waiters):
                    waiters.append(continuation)
                    state = .waiting(waiters)
                    return nil
                }
            }
            if let done { continuation.resume(returning: done) }
        }
        return try result.get()
    }

    /// Whether the first start failed: the server then stops, and the plugin is not restarted.
    var hasFailed: Bool {
        self.state.withLock { state in
            guard case .done(.failure) = state else { return false }
            return true
        }
    }

    func succeed(_ hello: PluginHello) { self.finish(.success(hello)) }
    func fail(_ error: PluginStartupError) { self.finish(.failure(error)) }

    /// The first outcome wins; later ones (restarts) change nothing. A failure fails the group's start.
    private func finish(_ result: Result<PluginHello, PluginStartupError>) {
        let waiters = self.state.withLock {
            state -> [CheckedContinuation<Result<PluginHello, PluginStartupError>, Never>]? in
            guard case .waiting(let waiters) = state else { return nil }
            state = .done(result)
            return waiters
        }
        guard let waiters else { return }
        if case .failure = result { self.startGroup.markFailed() }
        for waiter in waiters { waiter.resume(returning: result) }
    }
}

/// The plugins a server starts together: one failing its first start fails the start of all, at
/// once, so that a hello read in the moment after says nothing of being ready (the host refuses
/// the others only once its wait, a task, has seen the failure).
final class PluginStartGroup: Sendable {
    private let failed = Atomic(false)

    var hasFailed: Bool { self.failed.load(ordering: .acquiring) }

    func markFailed() {
        self.failed.store(true, ordering: .releasing)
    }
}
