import Foundation
import Testing

/// A comment's double-backticked symbol reference is how a reader finds what it speaks of; one left behind by a
/// rename or a new parameter sends them looking for something that is not there (an audit found
/// seven). Each reference must name what the package's code declares or uses.
@Suite("Doc comments' symbol references")
struct DocReferenceTests {
    /// Where the package's Swift lives.
    static let folders = ["Sources", "Tests", "Benchmarks", "Fuzz", "examples"]

    @Test("Every symbol reference names a symbol, and a function's labels are those it is declared with")
    func referencesResolve() throws {
        let files = try Self.folders.flatMap { try PackageFiles.swiftFiles(under: $0) }
        let code = files.map { SwiftCode(stripping: $0.text) }
        let words = code.reduce(into: Set<Substring>()) { $0.formUnion($1.words) }
        let declared = code.reduce(into: [Substring: Set<[Substring]>]()) {
            $0.merge($1.functionLabels) { $0.union($1) }
        }
        var checked = 0
        for file in files {
            for (number, line) in file.text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                guard let comment = line.range(of: "//").map({ line[$0.lowerBound...] }) else { continue }
                for reference in Self.references(in: comment) {
                    checked += 1
                    if let problem = Self.problem(with: reference, words: words, declared: declared) {
                        Issue.record("\(file.path):\(number + 1): ``\(reference)``: \(problem)")
                    }
                }
            }
        }
        #expect(checked > 500, "the references were found")
    }

    @Test("The check itself: labels, prefixes and names that no code has are caught")
    func theCheckCatchesWhatItShould() {
        let code = SwiftCode(
            stripping: """
                struct Pump { func start(at time: Int, _ speed: Int = 0) {} }  // ``Pump/stop()``
                let x = Pump().start(at: 1)
                """)
        let declared = code.functionLabels
        #expect(declared["start"] == [["at", "_"]])
        #expect(!code.words.contains("stop"), "comments are not code")
        let problem = { Self.problem(with: $0, words: code.words, declared: declared) }
        #expect(problem("Pump/start(at:_:)") == nil)
        #expect(problem("start(at:_:)-(Int)") == nil)
        #expect(problem("Pump/start(at:)") != nil)
        #expect(problem("Pump/stop()") != nil)
        #expect(problem("Pumps/start(at:_:)") != nil)
        #expect(problem("Pump.start") == nil)
        // Another module's function: only its name is checked.
        #expect(problem("Pump/print(_:separator:)") != nil)
        #expect(Self.references(in: "// ``a`` and ``b/c(d:)``, ```swift") == ["a", "b/c(d:)"])
    }

    /// The double-backticked spans of a comment that start as a name does.
    static func references(in comment: Substring) -> [Substring] {
        comment.split(separator: "``", omittingEmptySubsequences: false).enumerated().compactMap { index, part in
            // Not a code fence's ```swift: a reference starts as a name does.
            index % 2 == 1 && part.first?.isIdentifierStart == true ? part : nil
        }
    }

    /// Why `reference` names nothing, or nil: every component must be a word of the code, and a
    /// function the package declares must be declared with the labels given. A function only
    /// another module declares (NIO's, the standard library's) is taken by its name.
    static func problem(
        with reference: Substring, words: Set<Substring>, declared: [Substring: Set<[Substring]>]
    ) -> String? {
        var path = reference
        // DocC's disambiguation: `init(loggable:)-(Collection<UInt8>)`, `name-swift.property`.
        if let close = path.range(of: ")-") {
            path = path[...close.lowerBound]
        } else if !path.contains("("), let dash = path.firstIndex(of: "-") {
            path = path[..<dash]
        }
        let open = path.firstIndex(of: "(") ?? path.endIndex
        let components = path[..<open].split(whereSeparator: { $0 == "/" || $0 == "." })
        guard let last = components.last else { return "empty" }
        for name in components where !words.contains(name) {
            return "no code names `\(name)`"
        }
        guard open < path.endIndex, path.hasSuffix(")") else { return nil }
        let labels = path[path.index(after: open)..<path.index(before: path.endIndex)]
            .split(separator: ":", omittingEmptySubsequences: false).dropLast()
        guard let declarations = declared[last] else { return nil }
        guard declarations.contains(Array(labels)) else {
            let known = declarations.map { "\(last)(\($0.map { "\($0):" }.joined()))" }.sorted()
            return "declared as \(known.joined(separator: ", "))"
        }
        return nil
    }
}

/// A Swift file's code without its comments: the words it uses, and the argument labels of each
/// function, initializer, subscript and enum case with a payload it declares.
struct SwiftCode {
    let words: Set<Substring>
    let functionLabels: [Substring: Set<[Substring]>]

    init(stripping text: String) {
        // Line comments go (a `//` in a string cuts off the rest of its line: fewer words, never
        // more); block comments are rare here, and their words only add to what counts as used.
        let code = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.range(of: "//").map { line[..<$0.lowerBound] } ?? line
        }.joined(separator: "\n")
        let characters = Array(code)
        var words: Set<Substring> = []
        var labels: [Substring: Set<[Substring]>] = [:]
        var index = 0
        var previousWord: Substring = ""
        while index < characters.count {
            guard characters[index].isIdentifierStart else {
                index += 1
                continue
            }
            let start = index
            while index < characters.count, characters[index].isIdentifierPart { index += 1 }
            let word = Substring(String(characters[start..<index]))
            words.insert(word)
            let declaresParameters =
                ["func", "case"].contains(previousWord) || word == "init" || word == "subscript"
            if declaresParameters, let parameters = Self.parameterList(after: index, in: characters) {
                labels[word, default: []].insert(parameters)
            }
            previousWord = word
        }
        self.words = words
        self.functionLabels = labels
    }

    /// The argument labels of the parameter list that follows `start` (after an optional `?`,
    /// `!` or generic clause), or nil if none does.
    private static func parameterList(after start: Int, in characters: [Character]) -> [Substring]? {
        var index = start
        while index < characters.count, characters[index] == " " || characters[index] == "?" || characters[index] == "!"
        {
            index += 1
        }
        if index < characters.count, characters[index] == "<" {
            var depth = 0
            repeat {
                if characters[index] == "<" { depth += 1 }
                if characters[index] == ">" { depth -= 1 }
                index += 1
            } while index < characters.count && depth > 0
        }
        guard index < characters.count, characters[index] == "(" else { return nil }
        index += 1
        var depth = 0
        var parameter = ""
        var parameters: [String] = []
        while index < characters.count {
            let character = characters[index]
            let arrow = character == ">" && index > 0 && characters[index - 1] == "-"
            if "([{<".contains(character) { depth += 1 }
            if ")]}>".contains(character) && !arrow {
                if depth == 0 { break }
                depth -= 1
            }
            if character == "," && depth == 0 {
                parameters.append(parameter)
                parameter = ""
            } else {
                parameter.append(character)
            }
            index += 1
        }
        parameters.append(parameter)
        return parameters.compactMap { parameter in
            // An enum case's unlabelled payload (`case moved(Int)`) has no colon.
            guard parameter.contains(":") else { return parameter.allSatisfy(\.isWhitespace) ? nil : "_" }
            let head = parameter.prefix { $0 != ":" }
            let trimmed = head.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty else { return nil }
            return Substring(trimmed.split(separator: " ").first ?? "_")
        }
    }
}

extension Character {
    var isIdentifierStart: Bool { self == "_" || self.isLetter }
    fileprivate var isIdentifierPart: Bool { self == "_" || self.isLetter || self.isNumber }
}
