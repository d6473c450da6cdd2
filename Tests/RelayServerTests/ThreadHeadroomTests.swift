import ChildProcess
import Foundation
import HummingbirdTesting
import Testing

@testable import RelayServer

/// The threads the relay needs (``ThreadHeadroom``), on the `relay` executable: checked for at
/// start, and those NIO starts on first use started then. A relay started under a process limit
/// that left no room trapped at the first boss image or room socket, for every player.
/// Serialized: the process limit counts every process and thread of user nobody, each test's relay too.
@Suite("Threads: room for them checked, and started, at start-up", .serialized)
struct ThreadHeadroomTests {
    /// The names of the process's threads (`/proc/PID/task/*/comm`).
    static func threadNames(of pid: Int32) -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.compactMap { procFile("/proc/\(pid)/task/\($0)/comm")?.trimmingCharacters(in: .newlines) }
    }

    @Test("The blocking pool's threads and the busy-loop probe's run before any request; without the cap, no probe")
    func threadsUsedLaterStartWithTheRelay() async throws {
        for capped in [true, false] {
            try await withTemporaryDirectory { directory in
                let relay = try ChildRelay(
                    arguments: ["--port", "0", "--data-dir", directory + "/data"]
                        + (capped ? [] : ["--busy-loop-inbound-bytes-per-second", "0"]),
                    environment: ["API_KEY": testAPIKey])
                defer { relay.send(SIGKILL) }
                _ = try await relay.listeningPort()
                let names = Self.threadNames(of: relay.process.pid)
                #expect(names.contains { $0.hasPrefix("SGLTN-TP-") }, "\(names)")
                #expect(names.contains { $0.hasPrefix(ProbeSender.threadNamePrefix) } == capped, "\(names)")
            }
        }
    }

    @Test("The check's threads all start, then end before it returns")
    func theCheckEndsItsThreads() throws {
        #expect(ThreadHeadroom.required(cpus: 2) == 64 && ThreadHeadroom.required(cpus: 20) == 72)
        #expect(ThreadHeadroom.startThreads(40) == nil)
        let names = Self.threadNames(of: getpid())
        #expect(!names.isEmpty)
        #expect(!names.contains(ThreadHeadroom.threadName), "joined before it returns")
    }

    @Test(
        "Under a process limit below 64 the relay exits 1 saying so; at 64 it serves a boss image and a room socket",
        .enabled(if: getuid() == 0, "a process limit binds users other than root: the relay runs as nobody"))
    func aProcessLimitIsCheckedAtStart() async throws {
        try await withTemporaryDirectory { directory in
            chmod(directory, 0o777)  // for nobody
            let tooFew = try ChildRelay(
                arguments: ["--port", "0", "--data-dir", directory + "/few"], environment: ["API_KEY": testAPIKey],
                processLimit: 40)
            #expect(try await tooFew.exitStatus() == 1)
            #expect(
                tooFew.printed.contains(
                    "the process could run only 40 threads (errno 11 starting one more): a process limit (ulimit -u "
                        + "for a user other than root, a container's pids.max, systemd's TasksMax) leaves fewer than "
                        + "the 64 this relay needs room for: raise it"),
                "\(tooFew.printed)")
            #expect(!FileManager.default.fileExists(atPath: directory + "/few"), "nothing opened")

            let relay = try ChildRelay(
                arguments: ["--port", "0", "--data-dir", directory + "/enough"],
                environment: ["API_KEY": testAPIKey, "NIO_SINGLETON_GROUP_LOOP_COUNT": "2"], processLimit: 64)
            defer { relay.send(SIGKILL) }
            let port = try await relay.listeningPort()
            let image = try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .patient) {
                try await $0.get("/api/bosses/images/1", host: "127.0.0.1")
            }
            #expect(image.status == .notFound, "read on the blocking pool, which no request started")
            let socket = TestSocket.connect(port: port)
            _ = try await socket.createRoom(named: "Under a limit")
            #expect(relay.process.isRunning, "\(relay.printed)")
        }
    }

    /// Starts sleeping threads until one is refused, says how many started, and sleeps.
    static let threadsUntilRefused = """
        import threading, time
        started = 0
        try:
            while started < 200:
                threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
                started += 1
        except RuntimeError:
            pass
        print("refused after", started, flush=True)
        time.sleep(60)
        """

    /// What the limits walkthrough found: started with room to spare, the relay reached the limit
    /// later (other processes of its user took the rest), and the first room socket, starting the
    /// probe's thread, stopped it (`Unable to create thread: 11`).
    @Test(
        "A relay whose user's process limit fills up after its start still serves a boss image and a room socket",
        .enabled(if: getuid() == 0, "a process limit binds users other than root: the relay runs as nobody"))
    func aLimitFilledAfterTheStartStopsNoRequest() async throws {
        try await withTemporaryDirectory { directory in
            chmod(directory, 0o777)  // for nobody
            let relay = try ChildRelay(
                arguments: ["--port", "0", "--data-dir", directory + "/data"],
                environment: ["API_KEY": testAPIKey, "NIO_SINGLETON_GROUP_LOOP_COUNT": "2"], processLimit: 64)
            defer { relay.send(SIGKILL) }
            let port = try await relay.listeningPort()
            // Threads of nobody's, under the same limit, until no more can start.
            let filler = try ChildProcess(
                path: "/usr/bin/prlimit",
                arguments: [
                    "--nproc=64:64", "/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                    "/usr/bin/python3", "-c", Self.threadsUntilRefused,
                ],
                environment: [:])
            defer { filler.send(SIGKILL) }
            try await eventually { filler.printed.contains("refused after") }
            let image = try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .patient) {
                try await $0.get("/api/bosses/images/1", host: "127.0.0.1")
            }
            #expect(image.status == .notFound)
            let socket = TestSocket.connect(port: port)
            _ = try await socket.createRoom(named: "At the limit")
            #expect(relay.process.isRunning, "\(relay.printed)")
        }
    }
}
