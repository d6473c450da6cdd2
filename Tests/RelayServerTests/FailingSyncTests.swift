import ChildProcess
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A filesystem that finds itself full only as it writes back what it had cached: `fsync` fails
/// with `ENOSPC` (NFS, thin-provisioned volumes and compressing filesystems do). SQLite's hook for
/// such tests (``InjectedWriteErrors``) covers writes, not syncs, so a real `relay` runs with a
/// small library preloaded (`LD_PRELOAD`) whose `fsync` and `fdatasync` fail that way for the
/// files of its data folder while a flag file exists. With `--sync full`, every commit syncs.
@Suite("fsync failing with ENOSPC")
struct FailingSyncTests {
    /// The preloaded library: the real calls, unless the flag exists and the file is in the folder.
    static let library = #"""
        #define _GNU_SOURCE
        #include <dlfcn.h>
        #include <errno.h>
        #include <limits.h>
        #include <stdio.h>
        #include <stdlib.h>
        #include <string.h>
        #include <unistd.h>

        static int fails(int fd) {
            const char *folder = getenv("FAILING_SYNC_FOLDER"), *flag = getenv("FAILING_SYNC_FLAG");
            if (!folder || !flag || access(flag, F_OK) != 0) return 0;
            char link[64], path[PATH_MAX];
            snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
            ssize_t length = readlink(link, path, sizeof path - 1);
            if (length <= 0) return 0;
            path[length] = 0;
            return strncmp(path, folder, strlen(folder)) == 0;
        }

        int fsync(int fd) {
            static int (*real)(int);
            if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
            if (fails(fd)) { errno = ENOSPC; return -1; }
            return real(fd);
        }

        int fdatasync(int fd) {
            static int (*real)(int);
            if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
            if (fails(fd)) { errno = ENOSPC; return -1; }
            return real(fd);
        }
        """#

    @Test("A score whose commit cannot be synced is a 503 and is not kept; once syncs work again, writes do")
    func failingSyncIsAFullDisk() async throws {
        try await withTemporaryDirectory { temporary in
            let directory = URL(fileURLWithPath: temporary).resolvingSymlinksInPath().path
            let library = try await Self.buildLibrary(in: directory)
            let data = directory + "/data"
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
            let flag = directory + "/syncs-fail"
            let relay = try ChildRelay(
                arguments: ["--port", "0", "--data-dir", data, "--sync", "full"],
                environment: [
                    "API_KEY": testAPIKey, "LD_PRELOAD": library, "FAILING_SYNC_FOLDER": data + "/",
                    "FAILING_SYNC_FLAG": flag,
                ])
            let port = try await relay.listeningPort()

            #expect(try await Self.submit("before", score: 100, port: port).hasPrefix("HTTP/1.1 200 "))
            #expect(FileManager.default.createFile(atPath: flag, contents: nil))
            let refused = try await Self.submit("during", score: 200, port: port)
            #expect(refused.hasPrefix("HTTP/1.1 503 "), "\(refused)")
            #expect(refused.hasSuffix(#"{"detail":"Storage full, nothing was saved"}"#), "\(refused)")
            try FileManager.default.removeItem(atPath: flag)
            #expect(try await Self.submit("after", score: 300, port: port).hasPrefix("HTTP/1.1 200 "))

            // What was refused is not there; what was acknowledged is, also after a restart.
            #expect(try await Self.leaderboard(port: port) == ["after", "before"])
            relay.send(SIGTERM)
            #expect(try await relay.exitStatus() == 0, "\(relay.printed)")
            #expect(relay.printed.contains("persistence.batch.failed"))
            let restarted = try ChildRelay(
                arguments: ["--port", "0", "--data-dir", data], environment: ["API_KEY": testAPIKey])
            #expect(try await Self.leaderboard(port: try await restarted.listeningPort()) == ["after", "before"])
            restarted.send(SIGTERM)
            #expect(try await restarted.exitStatus() == 0, "\(restarted.printed)")
        }
    }

    /// Compiles ``library`` with the system's C compiler; returns its path.
    static func buildLibrary(in directory: String) async throws -> String {
        let source = directory + "/failing-sync.c"
        let library = directory + "/failing-sync.so"
        try Self.library.write(toFile: source, atomically: true, encoding: .utf8)
        let compiler = try ChildProcess(
            path: "/usr/bin/cc",
            arguments: ["-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-o", library, source, "-ldl"])
        if try await !compiler.exited(within: .seconds(60)) {
            compiler.send(SIGKILL)
            compiler.waitUntilExit()
        }
        try #require(compiler.terminationStatus == 0, "cc failed:\n\(compiler.printed)")
        return library
    }

    static func submit(_ name: String, score: Int, port: Int) async throws -> String {
        let body = String(buffer: scoreBody(name: name, score: score))
        return try await rawExchange(
            port: port,
            "POST /api/scores HTTP/1.1\r\nHost: x\r\nX-API-Key: \(testAPIKey)\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)")
    }

    /// The `player_name`s of the leaderboard, in order.
    static func leaderboard(port: Int) async throws -> [String] {
        let answer = try await rawExchange(
            port: port,
            "GET /api/scores/leaderboard HTTP/1.1\r\nHost: x\r\nX-API-Key: \(testAPIKey)\r\nConnection: close\r\n\r\n")
        return answer.matches(of: /"player_name":"([^"]*)"/).map { String($0.1) }
    }
}
