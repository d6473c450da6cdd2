import Dispatch
import Synchronization

#if canImport(Darwin)
    import Darwin
#endif

/// SIGINT and SIGTERM while the plugins start, before the server's own handling of them is in
/// place: without it, the signal's default action ended the server at once, and what the plugins
/// started lived on (a plugin runs in a session of its own, out of reach of the terminal's Ctrl-C).
/// A signal now makes the start fail, and the plugins are stopped in order.
final class StartupInterruption: Sendable {
    private let sources: Mutex<[any DispatchSourceSignal]>
    private let caught = FirstSignal()

    /// The first signal caught; a class, so that the signal sources' handlers can share it.
    private final class FirstSignal: Sendable {
        let number = Mutex<Int32?>(nil)
    }

    /// Catches `signals` from now on, calling `interrupt` with the first that comes.
    init(signals: [Int32], interrupt: @escaping @Sendable (Int32) -> Void) {
        var sources: [any DispatchSourceSignal] = []
        let caught = self.caught
        for number in signals {
            #if canImport(Darwin)
                signal(number, SIG_IGN)  // kqueue reports it to the source only if ignored (as ServiceLifecycle)
            #endif
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler {
                let isFirst = caught.number.withLock { caught in
                    defer { caught = caught ?? number }
                    return caught == nil
                }
                if isFirst { interrupt(number) }
            }
            source.resume()
            sources.append(source)
        }
        self.sources = Mutex(sources)
    }

    /// Stops catching, for the server's own handling of the signals; returns the signal that came
    /// meanwhile, if one did. The signals' dispositions are left as Dispatch set them: setting them
    /// back to the default would take them from the server's own signal sources too.
    func end() -> Int32? {
        for source in self.sources.withLock({ $0 }) { source.cancel() }
        return self.caught.number.withLock { $0 }
    }
}

/// The server was asked to stop (SIGINT, SIGTERM) while its plugins started; they are stopped.
public struct PluginStartupInterrupted: Error, CustomStringConvertible, Sendable {
    public let signal: Int32
    public var description: String { "start-up interrupted by signal \(self.signal)" }
}
