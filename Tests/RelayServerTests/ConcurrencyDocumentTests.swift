import Foundation
import Testing

/// Sources/CONCURRENCY.md names, for each hazard, the tests that pin its guard: someone changing
/// the guard looks for them by name, so a renamed or removed test must not leave the name behind.
@Suite("CONCURRENCY.md")
struct ConcurrencyDocumentTests {
    /// The backticked names listed after each "Tests:" (separated by commas, "and" and line breaks).
    static func namedTests(in document: String) -> [String] {
        var names: [String] = []
        for section in document.components(separatedBy: "Tests:").dropFirst() {
            var rest = Substring(section)
            while true {
                rest = rest.drop { $0 == " " || $0 == "," || $0 == "\n" }
                if rest.hasPrefix("and ") { rest = rest.dropFirst(4) }
                guard rest.first == "`", let close = rest.dropFirst().firstIndex(of: "`") else { break }
                names.append(String(rest[rest.index(after: rest.startIndex)..<close].prefix { $0 != "(" }))
                rest = rest[rest.index(after: close)...]
            }
        }
        return names
    }

    @Test("Every test it names is a test function or suite of the package")
    func namedTestsExist() throws {
        let document = try PackageFiles.text(of: "Sources/CONCURRENCY.md")
        let names = Self.namedTests(in: document)
        #expect(names.count > 30, "the names were found: \(names)")
        let sources = try PackageFiles.swiftSources(under: "Tests")
        for name in Set(names) {
            let declared = ["func \(name)(", "struct \(name) ", "struct \(name):", "class \(name) "].contains {
                sources.contains($0)
            }
            #expect(declared, "CONCURRENCY.md names `\(name)`, which no test declares")
        }
    }
}
