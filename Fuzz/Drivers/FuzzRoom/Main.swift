// libFuzzer driver for RoomCheck (Tests/FuzzTests/Checks): `Fuzz/run.sh room`.
// SwiftPM links an executable with `--defsym main=FuzzRoom_main`: this hands over to libFuzzer.
import Dispatch

/// One room check (one event loop) for the whole run.
let roomCheck = try! RoomCheck()

@_cdecl("FuzzRoom_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runLibFuzzer(argc, argv) { data, size in
        let bytes = Array(input(data, size))
        return trapOnViolation { () throws(FuzzViolation) in
            try blocking { () async throws(FuzzViolation) in try await roomCheck.run(bytes) }
        }
    }
}

/// Runs the async `body` to its end from libFuzzer's synchronous callback.
private func blocking(_ body: @escaping @Sendable () async throws(FuzzViolation) -> Void) throws(FuzzViolation) {
    let done = DispatchSemaphore(value: 0)
    let outcome = Outcome()
    Task {
        do throws(FuzzViolation) { try await body() } catch { outcome.violation = error }
        done.signal()
    }
    done.wait()
    if let violation = outcome.violation { throw violation }
}

/// Where the task leaves its violation; written before the semaphore signals, read after.
private final class Outcome: @unchecked Sendable {
    var violation: FuzzViolation?
}
