import ArgumentParser
import Foundation
import Testing

@testable import RelayBenchKit

/// The command line: the old invocation still means `relay`, and targets stay on loopback.
@Suite("relay-bench command line")
struct CommandLineTests {
    @Test("The command line from before the scenarios still runs the relay scenario")
    func legacyCommandLine() throws {
        let command = try RelayBenchCommand.parseAsRoot([
            "ws://127.0.0.1:8000", "--rooms", "500", "--players", "2", "--hz", "30", "--duration", "30s",
            "--server-pid", "42",
        ])
        let relay = try #require(command as? RelayScenarioCommand)
        let scenario = try relay.load.scenario(name: "relay", defaultRooms: 100, defaultPlayers: 2)
        #expect(scenario.rooms == 500)
        #expect(scenario.players == 2)
        #expect(scenario.hertz == 30)
        #expect(scenario.seconds == 30)
        #expect(relay.common.serverPID == 42)
        #expect(try relay.common.context().sendGridMicros == 0, "sends keep their own times unless asked")
    }

    @Test("--quiet leaves no progress sink, so a measurement window reads no live percentiles")
    func quiet() throws {
        let quiet = try #require(
            try RelayBenchCommand.parseAsRoot(["relay", "ws://127.0.0.1:8000", "--quiet"]) as? RelayScenarioCommand)
        #expect(try quiet.common.context().progress == nil)
        let chatty = try #require(
            try RelayBenchCommand.parseAsRoot(["relay", "ws://127.0.0.1:8000"]) as? RelayScenarioCommand)
        #expect(try chatty.common.context().progress != nil)
    }

    @Test("Each scenario has its subcommand, with its own defaults")
    func subcommands() throws {
        let fanout = try #require(
            try RelayBenchCommand.parseAsRoot(["fanout", "ws://127.0.0.1:8000", "--send-grid-us", "1000"])
                as? FanoutCommand)
        #expect(try fanout.common.context().sendGridMicros == 1_000)
        #expect(try fanout.load.scenario(name: "fanout", defaultRooms: 50, defaultPlayers: 8).players == 8)
        #expect(
            try RelayBenchCommand.parseAsRoot(["join-storm", "ws://localhost:8000", "--rate", "50"]) is JoinStormCommand
        )
        #expect(
            try RelayBenchCommand.parseAsRoot(["idle", "ws://127.0.0.1:8000", "--connections", "20000"]) is IdleCommand)
        #expect(try RelayBenchCommand.parseAsRoot(["slow-consumer", "ws://127.0.0.1:8000"]) is SlowConsumerCommand)
        #expect(try RelayBenchCommand.parseAsRoot(["step", "ws://127.0.0.1:8000", "--slo-ms", "20"]) is StepCommand)
    }

    @Test("--send-grid-us is refused by the scenarios that send no states, where it would do nothing")
    func sendGridOnlyWhereStatesAreSent() throws {
        for scenario in ["join-storm", "idle"] {
            #expect(throws: (any Error).self, "\(scenario)") {
                try RelayBenchCommand.parseAsRoot([scenario, "ws://127.0.0.1:8000", "--send-grid-us", "1000"])
            }
            #expect(throws: Never.self) { try RelayBenchCommand.parseAsRoot([scenario, "ws://127.0.0.1:8000"]) }
        }
        for scenario in ["relay", "fanout", "slow-consumer", "step"] {
            #expect(throws: Never.self, "\(scenario)") {
                try RelayBenchCommand.parseAsRoot([scenario, "ws://127.0.0.1:8000", "--send-grid-us", "1000"])
            }
        }
    }

    @Test("A --server-pid that names no process is refused before the run")
    func serverPIDMustExist() throws {
        // `=`: a separate "-1" would be refused by the parser as a missing value, not by the check.
        for pid in ["2147483647", "0", "-1"] {
            #expect(throws: (any Error).self, "\(pid)") {
                try RelayBenchCommand.parseAsRoot(["relay", "ws://127.0.0.1:8000", "--server-pid=\(pid)"])
            }
        }
        let own = "\(ProcessInfo.processInfo.processIdentifier)"
        #expect(
            try RelayBenchCommand.parseAsRoot(["relay", "ws://127.0.0.1:8000", "--server-pid", own])
                is RelayScenarioCommand)
    }

    @Test(
        "Only loopback servers are accepted", arguments: ["ws://10.0.0.1:8000", "ws://example.com:8000", "not a url"])
    func loopbackOnly(url: String) {
        #expect(throws: (any Error).self) { try RelayBenchCommand.parseAsRoot([url]) }
        #expect(throws: (any Error).self) { try RelayBenchCommand.parseAsRoot(["idle", url]) }
    }

    /// 127.0.0.n sources cannot reach ::1: every connection failed, and read as the server's failure.
    @Test("Source addresses are 127.0.0.n, for an IPv4 target only; an IPv6 one keeps the kernel's")
    func sourceAddressesNeedAnIPv4Target() async throws {
        #expect(throws: (any Error).self) {
            try RelayBenchCommand.parseAsRoot(["relay", "ws://[::1]:8000", "--source-addresses", "4"])
        }
        let ipv4 = try #require(
            try RelayBenchCommand.parseAsRoot(["relay", "ws://127.0.0.1:8000", "--source-addresses", "4"])
                as? RelayScenarioCommand)
        #expect(try ipv4.common.context().sourceAddresses == 4)
        let connections = 100_000  // more than one address's ports
        for (url, spreads) in [
            ("ws://127.0.0.1:8000", true), ("ws://localhost:8000", true), ("ws://[::1]:8000", false),
        ] {
            var context = try #require(
                try RelayBenchCommand.parseAsRoot(["relay", url, "--quiet"]) as? RelayScenarioCommand
            ).common.context()
            context = context.withSourceAddresses(for: connections)
            #expect((context.sourceAddresses > 1) == spreads, "\(url)")
            // However many it is asked for, a connector to ::1 binds none.
            context.sourceAddresses = 4
            let connector = try context.makeConnector()
            #expect(connector.sourceAddresses.count == (spreads ? 4 : 0), "\(url)")
            await connector.shutdown()
        }
    }

    @Test("Nonsense sizes and durations are refused")
    func bounds() {
        for arguments in [
            ["ws://127.0.0.1:8000", "--players", "1"], ["ws://127.0.0.1:8000", "--duration", "forever"],
            ["ws://127.0.0.1:8000", "--hz", "0"],
            ["join-storm", "ws://127.0.0.1:8000", "--rate", "20000", "--duration", "60s"],
            ["step", "ws://127.0.0.1:8000", "--start-rooms", "400", "--max-rooms", "100"],
            ["slow-consumer", "ws://127.0.0.1:8000", "--slow-percent", "100"],
        ] {
            #expect(throws: (any Error).self, "\(arguments)") { try RelayBenchCommand.parseAsRoot(arguments) }
        }
    }

    /// The ranges were written out in each help text beside the constants that enforce them.
    @Test("Each scenario's help gives the ranges its checks enforce, written from the same bounds")
    func helpGivesTheRanges() {
        #expect(OptionBounds.text(OptionBounds.rooms) == "1…20000")
        #expect(OptionBounds.text(OptionBounds.hertz) == "0.1…240")
        let plain = { (help: String) in help.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
        let relay = plain(RelayScenarioCommand.helpMessage())
        for range in ["1…20000", "2…64", "0.1…240", "0…60000"] { #expect(relay.contains(range), "\(range)") }
        let step = plain(StepCommand.helpMessage())
        for range in ["1…20000", "2…64", "0.1…240", "0…60000"] { #expect(step.contains(range), "\(range)") }
        #expect(plain(IdleCommand.helpMessage()).contains("Players per room, 2…64"))
        #expect(plain(JoinStormCommand.helpMessage()).contains("max_players of each room, 2…64"))
    }

    @Test("A refused room count names the option it came from")
    func roomOptionNames() {
        for (arguments, option) in [
            (["ws://127.0.0.1:8000", "--rooms", "30000"], "--rooms"),
            (["step", "ws://127.0.0.1:8000", "--max-rooms", "30000"], "--max-rooms"),
            (["step", "ws://127.0.0.1:8000", "--start-rooms", "0"], "--start-rooms"),
        ] {
            do {
                _ = try RelayBenchCommand.parseAsRoot(arguments)
                Issue.record("\(arguments) was accepted")
            } catch {
                #expect(RelayBenchCommand.message(for: error) == "\(option) must be 1…20000", "\(arguments)")
            }
        }
    }

    @Test("slow-consumer sends the state message asked for, and waits the --drain asked for")
    func slowConsumerMessage() throws {
        let command = try #require(
            try RelayBenchCommand.parseAsRoot([
                "slow-consumer", "ws://127.0.0.1:8000", "--message", "enemy-state", "--drain", "7s",
            ]) as? SlowConsumerCommand)
        #expect(try command.scenario().message == .enemyState)
        #expect(try command.scenario().drainSeconds == 7)
        let relay = try #require(
            try RelayBenchCommand.parseAsRoot(["relay", "ws://127.0.0.1:8000", "--drain", "30s", "--warmup", "5s"])
                as? RelayScenarioCommand)
        let scenario = try relay.load.scenario(name: "relay", defaultRooms: 1, defaultPlayers: 2)
        #expect(scenario.drainSeconds == 30)
        #expect(scenario.warmupSeconds == 5)
        // step's drain is at least its SLO: a relay late by less is late, not lost.
        let step = try #require(
            try RelayBenchCommand.parseAsRoot(["step", "ws://127.0.0.1:8000", "--drain", "3s", "--warmup", "2s"])
                as? StepCommand)
        #expect(try step.scenario().drainSeconds == 3 && step.scenario().warmupSeconds == 2)
        #expect(try step.scenario().drainWaited == 3)
        let slowSLO = try #require(
            try RelayBenchCommand.parseAsRoot(["step", "ws://127.0.0.1:8000", "--slo-ms", "5000"]) as? StepCommand)
        #expect(try slowSLO.scenario().drainWaited == 5)
    }

    @Test("Durations read as seconds, milliseconds or minutes")
    func durations() {
        #expect(DurationOption.seconds("30s") == 30)
        #expect(DurationOption.seconds("500ms") == 0.5)
        #expect(DurationOption.seconds("2m") == 120)
        #expect(DurationOption.seconds("7") == 7)
        #expect(DurationOption.seconds("soon") == nil)
    }

    @Test("The target URL keeps its host, port and base path")
    func target() throws {
        let target = try BenchTarget(url: "ws://127.0.0.2:8124/game/")
        #expect(target.host == "127.0.0.2")
        #expect(target.port == 8124)
        #expect(target.basePath == "/game")
        #expect(target.hostHeader == "127.0.0.2:8124")
    }

    /// `relay-bench join_storm ws://…` reached the default scenario, which read `join_storm` as its URL.
    @Test("A target that is no URL may be a mistyped scenario, and the error says so")
    func mistypedScenario() {
        #expect(
            throws: BenchError.invalidOption(
                "expected a ws://host:port URL (or a scenario: relay-bench --help lists them), got join_storm")
        ) {
            try BenchTarget(url: "join_storm")
        }
        #expect(throws: BenchError.invalidOption("expected a ws://host:port URL, got ftp://127.0.0.1:1")) {
            try BenchTarget(url: "ftp://127.0.0.1:1")
        }
    }

    @Test("http:// names the same server as ws://; TLS is refused, as the bench speaks none")
    func schemes() throws {
        #expect(try BenchTarget(url: "http://127.0.0.1:8000") == BenchTarget(url: "ws://127.0.0.1:8000"))
        for url in ["wss://127.0.0.1:1", "https://127.0.0.1:1"] {
            #expect(
                throws: BenchError.invalidOption("relay-bench speaks no TLS: expected a ws://host:port URL, got \(url)")
            ) {
                try BenchTarget(url: url)
            }
        }
    }
}
