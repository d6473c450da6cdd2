// libFuzzer driver for JSONCheck (Tests/FuzzTests/Checks): `Fuzz/run.sh json`.
// SwiftPM links an executable with `--defsym main=FuzzJSON_main`: this hands over to libFuzzer.
@_cdecl("FuzzJSON_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runLibFuzzer(argc, argv) { data, size in
        trapOnViolation { () throws(FuzzViolation) in try JSONCheck().run(input(data, size)) }
    }
}
