import Testing

@testable import Relay

@Suite("RoomState — coin drops")
struct CoinDropTests {
    /// (x, y, velocity_x, velocity_y, coin_id) of each drop.
    private func summary(_ drops: [JSONValue]) -> [[JSONValue]] {
        drops.map { [$0["x"]!, $0["y"]!, $0["velocity_x"]!, $0["velocity_y"]!, $0["coin_id"]!] }
    }

    // Expected values computed by hand with Python's `%` (never negative) and `int()` truncation.

    @Test func matchesTheFormulaForMixedSigns() {
        let drops = RoomState.coinDrops(x: 100.7, y: -50.2, count: 3)
        #expect(
            self.summary(drops) == [
                [99, -53, -1, -147, "coin_drop_100_-50_0"],
                [112, -57, 18, -124, "coin_drop_100_-50_1"],
                [125, -61, 37, -101, "coin_drop_100_-50_2"],
            ])
        #expect(
            drops[0] == [
                "coin_id": "coin_drop_100_-50_0", "x": 99, "y": -53, "velocity_x": -1, "velocity_y": -147, "value": 1,
                "is_collected": false, "collected_by": nil,
            ])
    }

    @Test func matchesTheFormulaForNegativeCoordinates() {
        #expect(
            self.summary(RoomState.coinDrops(x: -333.9, y: -7.5, count: 3)) == [
                [-315, -20, -94, -134, "coin_drop_-333_-7_0"],
                [-363, -24, -75, -111, "coin_drop_-333_-7_1"],
                [-350, -7, -56, -189, "coin_drop_-333_-7_2"],
            ])
    }

    @Test func matchesTheFormulaForPositiveCoordinates() {
        #expect(
            self.summary(RoomState.coinDrops(x: 250.0, y: 120.99, count: 2)) == [
                [262, 118, 47, -105, "coin_drop_250_120_0"],
                [275, 114, 66, -183, "coin_drop_250_120_1"],
            ])
    }

    @Test func truncatesTowardZero() {
        // int(-0.5) == 0 in Python: no "-0" in the id
        #expect(
            self.summary(RoomState.coinDrops(x: -0.5, y: 0.5, count: 1)) == [[-30, -20, -100, -200, "coin_drop_0_0_0"]])
    }

    @Test func countZeroOrNegativeDropsNothing() {
        #expect(RoomState.coinDrops(x: 10, y: 10, count: 0).isEmpty)
        #expect(RoomState.coinDrops(x: 10, y: 10, count: -3).isEmpty)
    }

    @Test func nonFiniteAndHugePositionsDoNotTrap() {
        #expect(RoomState.coinDrops(x: .nan, y: .infinity, count: 1)[0]["coin_id"] == "coin_drop_0_0_0")
        #expect(RoomState.coinDrops(x: 1e300, y: -1e300, count: 2).count == 2)
    }

    @Test func valuesStayInTheirRanges() {
        for x in stride(from: -500.0, through: 500, by: 37.3) {
            for drop in RoomState.coinDrops(x: x, y: -x, count: 5) {
                let vx = drop["velocity_x"]!.doubleValue!
                let vy = drop["velocity_y"]!.doubleValue!
                #expect((-100...100).contains(vx))
                #expect((-200 ... -100).contains(vy))
            }
        }
    }
}
