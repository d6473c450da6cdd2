import Testing

@testable import RelayServer

@Suite("Event-loop threads")
struct EventLoopThreadsTests {
    @Test func countsTheCPUsOfTheAffinityMask() {
        #expect(EventLoopThreads.cpuCount(inStatus: "Name:\trelay\nCpus_allowed:\t2\nCpus_allowed_list:\t1\n") == 1)
        #expect(EventLoopThreads.cpuCount(inStatus: "Cpus_allowed:\t3\n") == 2)
        #expect(EventLoopThreads.cpuCount(inStatus: "Cpus_allowed:\tff,ffffffff\n") == 40)
        #expect(EventLoopThreads.cpuCount(inStatus: "Cpus_allowed:\t00000000,00000101\n") == 2)
    }

    @Test func unreadableStatusGivesNoCount() {
        #expect(EventLoopThreads.cpuCount(inStatus: "Name:\trelay\n") == nil)
        #expect(EventLoopThreads.cpuCount(inStatus: "Cpus_allowed:\t\n") == nil)
        #expect(EventLoopThreads.cpuCount(inStatus: "Cpus_allowed:\tzz\n") == nil)
    }

    @Test func thisProcessHasAtLeastOneCPU() throws {
        let count = try #require(EventLoopThreads.cpusInAffinityMask())
        #expect(count >= 1)
    }
}
