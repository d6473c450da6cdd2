// Shared by every driver (each links this file in): libFuzzer's entry point and the trap.

/// libFuzzer's own driver: parses the command line, then calls `callback` with each input.
@_silgen_name("LLVMFuzzerRunDriver")
func llvmFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

/// Runs libFuzzer with the process's arguments; `callback` must capture nothing.
func runLibFuzzer(
    _ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32 {
    var argc = argc
    var argv = argv
    return llvmFuzzerRunDriver(&argc, &argv, callback)
}

/// The input as a buffer (libFuzzer may pass a null pointer with size 0).
func input(_ data: UnsafePointer<UInt8>?, _ size: Int) -> UnsafeBufferPointer<UInt8> {
    UnsafeBufferPointer(start: size > 0 ? data : nil, count: size)
}

/// Runs `check`; a violation stops the process with its description, and libFuzzer saves the input.
func trapOnViolation(_ check: () throws(FuzzViolation) -> Void) -> Int32 {
    do {
        try check()
    } catch {
        fatalError("fuzz check violated: \(error)")
    }
    return 0
}
