import Foundation
import Testing

@testable import RelayBenchKit

/// The CPU figures of a report: what is read from /proc, and how it reads.
@Suite("Process and machine figures")
struct ProcessStatsTests {
    @Test("The run-queue wait is the second field of a schedstat line")
    func schedstatField() {
        #expect(ProcessStats.runQueueWaitNanoseconds(schedstat: "250846829 35881205 1474\n") == 35_881_205)
        #expect(ProcessStats.runQueueWaitNanoseconds(schedstat: "250846829") == nil)
        #expect(ProcessStats.runQueueWaitNanoseconds(schedstat: "") == nil)
    }

    /// The kernel pads the figure to 8 columns after a tab: 8 digits leave no space (a 9.5 GiB
    /// server read as 0).
    @Test("VmRSS is read at any width")
    func residentSetAtAnyWidth() {
        #expect(ProcessStats.residentKilobytes(inStatus: "Name:\trelay\nVmRSS:\t   42324 kB\nThreads:\t9\n") == 42_324)
        #expect(ProcessStats.residentKilobytes(inStatus: "VmRSS:\t12345678 kB\n") == 12_345_678)
        #expect(ProcessStats.residentKilobytes(inStatus: "Name:\tzombie\n") == nil)
        let own = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        #expect((own.flatMap(ProcessStats.residentKilobytes(inStatus:)) ?? 0) > 1_000, "this process, over 1 MB")
    }

    @Test("A window's wait is each thread's growth: new threads count whole, ended ones drop out, never negative")
    func waitBetweenReadings() {
        let before: [Int32: UInt64] = [1: 1_000_000, 2: 5_000_000_000, 3: 7_000_000]
        // 1 waited 2 ms more; 2 ended (its 5 s are not the window's); 3's id now belongs to a new
        // thread that waited 1 ms; 4 is new and waited 3 ms.
        let after: [Int32: UInt64] = [1: 3_000_000, 3: 1_000_000, 4: 3_000_000]
        let seconds = ProcessStats.runQueueWaitSeconds(from: before, to: after)
        #expect(abs(seconds - 0.006) < 1e-9)
        #expect(ProcessStats.runQueueWaitSeconds(from: before, to: [:]) == 0)
    }

    @Test("Steal is the eighth number of /proc/stat's all-cores line")
    func stealColumn() {
        let procStat = """
            cpu  5304298 85 1068167 4580497 86027 0 221005 9242 0 0
            cpu0 2380490 23 519972 2574549 14297 0 106663 4752 0 0
            intr 1 2 3
            """
        #expect(StealTime.stealTicks(procStat: procStat) == 9242)
        #expect(StealTime.stealTicks(procStat: "cpu0 1 2 3 4 5 6 7 8\n") == nil)
        #expect(StealTime.stealTicks(procStat: "cpu  1 2 3\n") == nil)
    }

    @Test("Threads spinning on more cores than there are wait for one, and the wait shows in this process's figures")
    func waitsShowUnderContention() async throws {
        let before = try #require(ProcessStats.current())
        try #require(before.runQueueWaits != nil)
        let spun = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let threads = ProcessInfo.processInfo.activeProcessorCount + 1
        for _ in 0..<threads {
            // One more than the cores, each wanting one for 300 ms of wall time: together they wait
            // at least 300 ms, more when other tests run. They stay until read: an exited thread's
            // figures are gone from /proc.
            Thread {
                let end = ContinuousClock.now + .milliseconds(300)
                while ContinuousClock.now < end {}
                spun.signal()
                release.wait()
            }.start()
        }
        // Waited for on a thread of its own, not on one of the cooperative pool's, which every
        // test shares (and which the spinners keep from a core meanwhile).
        await withCheckedContinuation { continuation in
            Thread {
                for _ in 0..<threads { spun.wait() }
                continuation.resume()
            }.start()
        }
        let after = try #require(ProcessStats.current())
        for _ in 0..<threads { release.signal() }
        let usage = try #require(ProcessUsage(from: before, to: after))
        let waited = try #require(usage.runQueueWaitSeconds)
        #expect(waited > 0.05, "spinning threads waited \(waited) s in all")
        #expect(Format.usage(usage, microsPerDelivery: nil).contains("ms for a core"))
    }

    @Test("A server's CPU and memory include the processes it started: a wrapper's child, a forked worker")
    func childProcessesCount() async throws {
        // A shell that waits for a grandchild spinning a core. Killed, not terminated: the test
        // process ignores SIGTERM (the relay's stop signals), and its children inherit that.
        let wrapper = Process()
        wrapper.executableURL = URL(fileURLWithPath: "/bin/sh")
        wrapper.arguments = ["-c", #"timeout -s KILL 120 sh -c 'while :; do :; done' & wait"#]
        try wrapper.run()
        let pid = wrapper.processIdentifier
        defer {
            for process in ProcessStats.processTree(of: pid).reversed() { kill(process, SIGKILL) }
            wrapper.waitUntilExit()
        }
        // Until the grandchild runs, and has had some CPU: the machine may be busy with other
        // tests (starting the processes took 30 s once, in a loaded run of the suite).
        let deadline = ContinuousClock.now + .seconds(60)
        while ProcessStats.processTree(of: pid).count < 3, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        let tree = ProcessStats.processTree(of: pid)
        #expect(tree.count == 3 && tree.first == pid, "sh, timeout and the spinning sh: \(tree)")
        let before = try #require(ProcessStats.read(pid: pid))
        var after = before
        let spinning = ContinuousClock.now + .seconds(30)
        while after.cpuSeconds - before.cpuSeconds < 0.05, ContinuousClock.now < spinning {
            try await Task.sleep(for: .milliseconds(20))
            after = try #require(ProcessStats.read(pid: pid))
        }
        // The waiting shell itself uses next to nothing: what shows is its descendants'.
        #expect(after.cpuSeconds - before.cpuSeconds >= 0.05, "\(after.cpuSeconds - before.cpuSeconds) s")
        let ownResident = try #require(ProcessStats.read(pid: tree.last!)).residentBytes
        #expect(after.residentBytes > ownResident, "three processes' memory, more than the last one's")
    }

    /// Only that it reads here: the line's parsing has its own test, and whether the counter goes
    /// backwards is the kernel's to keep (a check of that, read twice, could not fail).
    @Test("The steal counter reads on this machine")
    func stealReads() throws {
        _ = try #require(StealTime.read())
    }
}
