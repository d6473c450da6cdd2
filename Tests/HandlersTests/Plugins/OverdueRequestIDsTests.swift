import Testing

@testable import Handlers

@Suite struct OverdueRequestIDsTests {
    /// Removes each of `ids` from `set`; which of them it held.
    private func removing(_ ids: some Sequence<UInt64>, from set: inout OverdueRequestIDs) -> [UInt64] {
        ids.filter { set.remove($0) }
    }

    @Test func idsAreHeldUntilRemovedOnce() {
        var ids = OverdueRequestIDs(capacity: 8)
        ids.insert(3)
        ids.insert(5)
        #expect(self.removing([3, 3, 4], from: &ids) == [3])
        #expect(ids.count == 1)
    }

    /// A full set forgets its oldest (smallest) half, whatever order the ids came in.
    @Test func aFullSetForgetsItsOldestHalf() {
        var ids = OverdueRequestIDs(capacity: 8)
        for id: UInt64 in [8, 1, 7, 2, 6, 3, 5, 4] { ids.insert(id) }
        #expect(ids.count == 8)
        ids.insert(9)
        #expect(ids.count == 5)
        #expect(self.removing(1...9, from: &ids) == [5, 6, 7, 8, 9])
    }

    /// The set never holds more than its capacity, however many requests time out.
    @Test func manyTimeoutsStayWithinTheCapacity() {
        let capacity = PluginProcess.overdueIDsRemembered
        var ids = OverdueRequestIDs(capacity: capacity)
        var largest = 0
        for id in 1...UInt64(3 * capacity + 1) {
            ids.insert(id)
            largest = max(largest, ids.count)
        }
        #expect(largest == capacity)
        #expect(self.removing([UInt64(3 * capacity + 1)], from: &ids).count == 1)
    }
}
