import Foundation
import Testing

/// The cap on tests running at once is set by the test binary itself (`Tests/TestWidth`), so a
/// plain `swift test` has it: all at once, a slow machine timed out the tests that wait a bounded time.
@Suite("The test binary")
struct TestWidthTests {
    @Test("caps how many tests run at once, unless told otherwise")
    func capsTheTestsRunningAtOnce() throws {
        let width = try #require(
            ProcessInfo.processInfo.environment["SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH"],
            "Tests/TestWidth is not linked into the test binary")
        #expect(Int(width).map { $0 > 0 } == true, "\(width)")
    }
}
