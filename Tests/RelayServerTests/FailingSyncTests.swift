import ChildProcess
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A filesystem that finds itself full only as it writes back what it had cached: `fsync` fails
/// with `ENOSPC` (NFS, thin-provisioned volumes and compressing filesystems do); or a disk that
/// fails it (`EIO`). SQLite's hook for such tests (``InjectedWriteErrors``) covers writes, not
/// syncs, so a real `relay` runs with a small library preloaded (`LD_PRELOAD`) whose `fsync` and
/// `fdatasync` fail that way for the files of its data folder while a flag file exists. With
/// `--sync full` (the default), every commit syncs.
@Suite("fsync failing")
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

        static int failure(void) {
            const char *number = getenv("FAILING_SYNC_ERRNO");
            return number ? atoi(number) : ENOSPC;
        }

        int fsync(int fd) {
            static int (*real)(int);
            if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
            if (fails(fd)) { errno = failure(); return -1; }
            return real(fd);
        }

        int fdatasync(int fd) {
            static int (*real)(int);
            if (!real) real = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
            if (fails(fd)) { errno = failure(); return -1; }
            return real(fd);
        }
        """#

    /// How a commit whose sync fails with `errno` is answered: status line's start, and body.
    static func unsure(_ errno: Int32) -> (status: String, body: String) {
        errno == ENOSPC
            ? ("HTTP/1.1 503 ", #"{"detail":"Storage full, this write may or may not have been saved"}"#)
            : ("HTTP/1.1 500 ", #"{"detail":"Storage failed, this write may or may not have been saved"}"#)
    }

    @Test(
        "A score whose commit cannot be synced is answered as one that may be saved (503 for a full disk, 500 for an I/O error): gone after the next commit, kept by a crash",
        arguments: [ENOSPC, EIO])
    func failingSyncMayHaveSaved(errno failure: Int32) async throws {
        let unsure = Self.unsure(failure)
        try await withTemporaryDirectory { temporary in
            let directory = URL(fileURLWithPath: temporary).resolvingSymlinksInPath().path
            let library = try await Self.buildLibrary(in: directory)
            let data = directory + "/data"
            try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
            let flag = directory + "/syncs-fail"
            func start() throws -> ChildRelay {
                try ChildRelay(
                    arguments: ["--port", "0", "--data-dir", data],
                    environment: [
                        "API_KEY": testAPIKey, "LD_PRELOAD": library, "FAILING_SYNC_FOLDER": data + "/",
                        "FAILING_SYNC_FLAG": flag, "FAILING_SYNC_ERRNO": "\(failure)",
                    ])
            }
            var relay = try start()
            var port = try await relay.listeningPort()

            // The next commit writes over the refused one's frames: it is gone.
            #expect(try await Self.submit("before", score: 100, port: port).hasPrefix("HTTP/1.1 200 "))
            #expect(FileManager.default.createFile(atPath: flag, contents: nil))
            let refused = try await Self.submit("refused", score: 200, port: port)
            #expect(refused.hasPrefix(unsure.status), "\(refused)")
            #expect(refused.hasSuffix(unsure.body), "\(refused)")
            try FileManager.default.removeItem(atPath: flag)
            #expect(try await Self.submit("after", score: 300, port: port).hasPrefix("HTTP/1.1 200 "))
            #expect(try await Self.leaderboard(port: port) == ["after", "before"])
            relay.send(SIGTERM)
            #expect(try await relay.exitStatus() == 0, "\(relay.printed)")
            #expect(relay.printed.contains("persistence.batch.failed"))

            // A crash first: the refused commit is in the WAL, whole, and recovery keeps it (here it
            // did; the answer says it may). What was acknowledged is there either way.
            relay = try start()
            port = try await relay.listeningPort()
            #expect(FileManager.default.createFile(atPath: flag, contents: nil))
            #expect(try await Self.submit("unsure", score: 400, port: port).hasSuffix(unsure.body))
            try FileManager.default.removeItem(atPath: flag)
            relay.send(SIGKILL)
            _ = try await relay.exitStatus()
            let restarted = try ChildRelay(
                arguments: ["--port", "0", "--data-dir", data], environment: ["API_KEY": testAPIKey])
            let board = try await Self.leaderboard(port: try await restarted.listeningPort())
            #expect(board.filter { $0 != "unsure" } == ["after", "before"], "\(board)")
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
