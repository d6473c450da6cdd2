// libFuzzer driver for RelaysCheck (Tests/FuzzTests/Checks): `Fuzz/run.sh relays`.
// SwiftPM links an executable with `--defsym main=FuzzRelays_main`: this hands over to libFuzzer.
@_cdecl("FuzzRelays_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runLibFuzzer(argc, argv) { data, size in
        trapOnViolation { () throws(FuzzViolation) in try RelaysCheck().run(input(data, size)) }
    }
}
