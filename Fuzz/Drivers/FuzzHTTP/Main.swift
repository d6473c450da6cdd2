// libFuzzer driver for HTTPCheck (Tests/FuzzTests/Checks): `Fuzz/run.sh http`.
// SwiftPM links an executable with `--defsym main=FuzzHTTP_main`: this hands over to libFuzzer.
@_cdecl("FuzzHTTP_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runLibFuzzer(argc, argv) { data, size in
        trapOnViolation { () throws(FuzzViolation) in try HTTPCheck().run(input(data, size)) }
    }
}
