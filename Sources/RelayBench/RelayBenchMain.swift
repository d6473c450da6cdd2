import RelayBenchKit

/// The `relay-bench` executable: everything lives in RelayBenchKit, where the tests reach it.
@main
enum RelayBenchMain {
    static func main() async {
        await RelayBenchCommand.main()
    }
}
