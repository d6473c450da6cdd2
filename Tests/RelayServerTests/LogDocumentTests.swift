import Foundation
import Testing

/// README's "What the log says" is what an operator greps and alerts on: every event and field
/// its tables name must be one the server logs, or an alert waits for a line that never comes.
@Suite("README's log events")
struct LogDocumentTests {
    /// The table rows of the section: each row's event (first column) and the backticked names of
    /// its fields (last column).
    static func rows(inREADME readme: String) -> [(event: String, fields: [String])] {
        let section =
            readme.components(separatedBy: "### What the log says").dropFirst().first?
            .components(separatedBy: "\n## ").first ?? ""
        return section.split(separator: "\n").compactMap { line in
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard cells.count == 6, let event = Self.backticked(cells[1]).first else { return nil }
            return (event, Self.backticked(cells[4]))
        }
    }

    private static func backticked(_ text: String) -> [String] {
        text.split(separator: "`", omittingEmptySubsequences: false).enumerated().compactMap { index, part in
            index % 2 == 1 ? String(part) : nil
        }
    }

    @Test("Every event and field it lists is a string the server's sources log")
    func listedEventsAreLogged() throws {
        let readme = try PackageFiles.text(of: "README.md")
        let rows = Self.rows(inREADME: readme)
        #expect(rows.count > 50, "the tables were found: \(rows.map(\.event))")
        let sources = try PackageFiles.swiftSources(under: "Sources")
        let named = { (name: String) in sources.contains("\"\(name)\"") }  // as a literal, not in a longer one
        for (event, fields) in rows {
            #expect(named(event), "README lists `\(event)`, which no source logs")
            for field in fields where !named(field) {
                Issue.record("README gives `\(event)` a field `\(field)` no source names")
            }
        }
    }
}
