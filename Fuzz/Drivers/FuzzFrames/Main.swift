// libFuzzer driver for FramesCheck (Tests/FuzzTests/Checks): `Fuzz/run.sh frames`.
// SwiftPM links an executable with `--defsym main=FuzzFrames_main`: this hands over to libFuzzer.
@_cdecl("FuzzFrames_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runLibFuzzer(argc, argv) { data, size in
        trapOnViolation { () throws(FuzzViolation) in try FramesCheck().run(input(data, size)) }
    }
}
