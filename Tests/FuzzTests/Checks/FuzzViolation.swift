/// A property a fuzz check found broken, with what showed it.
///
/// The checks in this folder are plain functions over bytes. The seed tests run them and expect
/// none of this; the libFuzzer drivers (`Fuzz/Drivers`, which compile these same files) trap with
/// it, so that libFuzzer saves the input.
struct FuzzViolation: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Throws a ``FuzzViolation`` saying `what` unless `condition` holds.
func require(_ condition: Bool, _ what: @autoclosure () -> String) throws(FuzzViolation) {
    if !condition { throw FuzzViolation(what()) }
}

/// Calls `body` with a copy of `bytes` in memory of its own, exactly sized, so that
/// AddressSanitizer catches a read one byte past the end.
func withExactCopy<Result>(
    of bytes: some Collection<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) throws(FuzzViolation) -> Result
) throws(FuzzViolation) -> Result {
    let copy = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: bytes.count)
    defer { copy.deallocate() }
    _ = copy.initialize(from: bytes)
    return try body(UnsafeBufferPointer(copy))
}

/// Text for a violation: the bytes as UTF-8 (invalid sequences replaced), quoted and escaped.
func shown(_ bytes: some Collection<UInt8>) -> String {
    String(decoding: Array(bytes.prefix(300)), as: UTF8.self).debugDescription + (bytes.count > 300 ? "…" : "")
}
