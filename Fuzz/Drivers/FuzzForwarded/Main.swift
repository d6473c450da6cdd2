// libFuzzer driver for ForwardedCheck (Tests/FuzzTests/Checks): `Fuzz/run.sh forwarded`.
// SwiftPM links an executable with `--defsym main=FuzzForwarded_main`: this hands over to libFuzzer.
@_cdecl("FuzzForwarded_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runLibFuzzer(argc, argv) { data, size in
        trapOnViolation { () throws(FuzzViolation) in try ForwardedCheck().run(input(data, size)) }
    }
}
