import NIOCore
import Synchronization

/// One value for each event loop, made on first use and kept for the server's life (a loop's
/// ``BusyLoop``, its room sockets' age checks).
final class PerEventLoop<Value>: Sendable {
    private let values = Mutex<[ObjectIdentifier: NIOLoopBound<Value>]>([:])

    /// `eventLoop`'s value, made by `make` if it has none yet. Use the value on `eventLoop`.
    func value(of eventLoop: any EventLoop, orMake make: () -> Value) -> NIOLoopBound<Value> {
        self.values.withLock { values in
            if let known = values[ObjectIdentifier(eventLoop)] { return known }
            let made = NIOLoopBound(make(), eventLoop: eventLoop)
            values[ObjectIdentifier(eventLoop)] = made
            return made
        }
    }
}
