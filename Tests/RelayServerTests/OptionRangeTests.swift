import ArgumentParser
import Testing

@testable import RelayServer

@Suite("Numeric options: a number outside its range stops the start (README, Configuration)")
struct OptionRangeTests {
    /// ArgumentParser's message when parsing `arguments` is refused; nil when they are taken.
    private func refusal(_ arguments: [String]) -> String? {
        do {
            _ = try RelayCommand.parse(arguments)
            return nil
        } catch {
            return RelayCommand.message(for: error)
        }
    }

    @Test("Nonsense and below-minimum numbers are refused with the option's range, not raised or taken")
    func refusedWithTheirRange() {
        let cases: [(arguments: [String], message: String)] = [
            // Started the server, and crashed it at the first request with a body.
            (["--max-body-bytes=-1"], "--max-body-bytes must be 1024…1073741824, not -1"),
            // Refused every score and save.
            (["--max-body-bytes=0"], "--max-body-bytes must be 1024…1073741824, not 0"),
            // Were quietly raised to 1,024, 2 and 1.
            (["--max-frame-bytes", "100"], "--max-frame-bytes must be 1024…1073741824, not 100"),
            (["--max-players-per-room", "1"], "--max-players-per-room must be 2…1000, not 1"),
            (["--max-connections", "0"], "--max-connections must be 1…10000000, not 0"),
            // Were taken: a batch of none, a queue refusing every write, a negative window.
            (["--batch-size", "0"], "--batch-size must be 1…100000, not 0"),
            (["--write-queue-capacity", "0"], "--write-queue-capacity must be 1…10000000, not 0"),
            (["--batch-window-ms=-10"], "--batch-window-ms must be 0…60000, not -10"),
            (["--game-modes-in-memory=-1"], "--game-modes-in-memory must be 0…10000000, not -1"),
            // Were read as no limit at all.
            (
                ["--writes-per-second-per-address", "nan"],
                "--writes-per-second-per-address must be 0 (no limit) or 0.001…1000000, not nan"
            ),
            (
                ["--writes-per-second-per-address=-1"],
                "--writes-per-second-per-address must be 0 (no limit) or 0.001…1000000, not -1"
            ),
            (["--new-connections-per-second-per-address", "inf"], "must be 0 (no limit) or 0.001…1000000, not inf"),
            // Started, and crashed the server at the first sweep of its table of addresses.
            (
                ["--new-connections-per-second-per-address", "1e-21"],
                "must be 0 (no limit) or 0.001…1000000, not 1e-21"
            ),
            // 0 turns the trim off: it sets no limit.
            (["--memory-trim-seconds=-1"], "--memory-trim-seconds must be 0 (never) or 1…86400, not -1"),
            // Crashed the start (its burst, twice it, overflowed).
            (["--messages-per-second", "\(Int.max)"], "--messages-per-second must be 1…10000000, not"),
        ]
        for (arguments, message) in cases {
            let refused = self.refusal(arguments)
            #expect(refused?.contains(message) == true, "\(arguments): \(refused ?? "accepted")")
        }
    }

    @Test("Each range's ends make a configuration, and one past either end is refused")
    func bothEndsOfEveryRange() throws {
        let ranges = try RelayCommand.parse(["--max-connections", "50"]).numericRanges
        for option in ranges {
            let integral = [option.range.lowerBound, option.range.upperBound].allSatisfy { $0.rounded() == $0 }
            let step = integral ? 1.0 : 0.5
            for end in [option.range.lowerBound, option.range.upperBound] + (option.zeroIsOff ? [0] : []) {
                let text = integral ? String(Int(end)) : String(end)
                let configuration = try RelayCommand.parse(["--\(option.option)=\(text)"]).configuration(
                    environment: [:])
                _ = configuration  // built without a trap: the bursts and durations stay in range
            }
            // Below a range from 1 that 0 turns off (`--outbound-queue-seconds`), the first refused is -1.
            let below = option.range.lowerBound - step
            for outside in [below == 0 && option.zeroIsOff ? -step : below, option.range.upperBound + step] {
                let text = integral ? String(Int(outside)) : String(outside)
                #expect(self.refusal(["--\(option.option)=\(text)"]) != nil, "--\(option.option)=\(text)")
            }
        }
    }

    @Test("Every numeric option has a range")
    func everyNumericOptionIsChecked() throws {
        let command = try RelayCommand.parse(["--max-connections", "50"])
        let checked = Set(command.numericRanges.map(\.option))
        let numeric = Mirror(reflecting: command).children.compactMap { child -> String? in
            let type = "\(Swift.type(of: child.value))"
            guard let label = child.label,
                type.contains("<Int") || type.contains("<Double")
                    || type.contains("<Optional<Int")
            else { return nil }
            return Self.optionName(property: String(label.dropFirst()))  // `_batchSize` → batch-size
        }
        #expect(numeric.count > 20)
        // The port has its own check and message (also for PORT).
        #expect(Set(numeric).subtracting(["port"]) == checked)
    }

    /// Swift's `Double` reads hex: `0x10` ran at 16 a second, where the integer options refuse it.
    @Test("The rates are decimal numbers, and their help gives the defaults they have")
    func ratesAreDecimal() throws {
        for text in ["0x10", "0x1p3", "ten", "1_0", ""] {
            #expect(self.refusal(["--writes-per-second-per-address", text]) != nil, "\(text)")
        }
        for (text, value) in [("12", 12.0), ("0.5", 0.5), ("1e1", 10), (".25", 0.25), ("0", 0)] {
            #expect(
                try RelayCommand.parse(["--writes-per-second-per-address", text]).writesPerSecondPerAddress == value)
        }
        let help = RelayCommand.helpMessage(columns: 10_000)
        let defaults = try RelayCommand.parse([])
        for (option, value) in [
            ("new-connections-per-second-per-address", defaults.newConnectionsPerSecondPerAddress),
            ("writes-per-second-per-address", defaults.writesPerSecondPerAddress),
            ("http-requests-per-second-per-address", defaults.httpRequestsPerSecondPerAddress),
        ] {
            // Its entry: from its line to the next option's.
            let entry =
                help.components(separatedBy: "\n  --\(option) ").dropFirst().first?
                .components(separatedBy: "\n  --").first ?? ""
            #expect(
                entry.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("(default: \(Int(value)))"), "\(entry)")
        }
    }

    /// So that several bad options are reported in the order a reader of `--help` meets them.
    @Test("The ranges are checked in --help's order")
    func rangesInHelpOrder() throws {
        let checked = try RelayCommand.parse(["--max-connections", "50"]).numericRanges.map(\.option)
        let help = RelayCommand.helpMessage(columns: 200)
        let listed = help.split(separator: "\n").compactMap { line -> String? in
            guard let match = line.firstMatch(of: /^  --([a-z-]+)/) else { return nil }
            return String(match.1)
        }
        #expect(listed.filter(checked.contains) == checked)
    }

    private static func optionName(property: String) -> String {
        property.reduce(into: "") { name, character in
            if character.isUppercase { name += "-" + character.lowercased() } else { name.append(character) }
        }
    }
}
