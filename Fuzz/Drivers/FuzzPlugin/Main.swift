// libFuzzer driver for PluginCheck (Tests/FuzzTests/Checks): `Fuzz/run.sh plugin`.
// SwiftPM links an executable with `--defsym main=FuzzPlugin_main`: this hands over to libFuzzer.
@_cdecl("FuzzPlugin_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    runLibFuzzer(argc, argv) { data, size in
        trapOnViolation { () throws(FuzzViolation) in try PluginCheck().run(input(data, size)) }
    }
}
