import Testing

@testable import RelayBenchKit

/// The pure decisions of the scenarios: room places, slow players, steps and their verdicts.
@Suite("Scenario planning")
struct PlanningTests {
    @Test("A join storm never sends a room more players than max_players, whatever the order of answers")
    func joinStormPlaces() {
        var generator = SystemRandomNumberGenerator()
        for players in 2...5 {
            var plan = JoinStormPlan(playersPerRoom: players)
            var pendingCreates: [Int] = []
            var joinsPerRoom: [Int: Int] = [:]
            for _ in 0..<2_000 {
                switch plan.next() {
                case .create(let room):
                    pendingCreates.append(room)
                case .join(let room, let code):
                    #expect(code == "R\(room)")
                    joinsPerRoom[room, default: 0] += 1
                }
                // Rooms are confirmed in random order, some late, some never.
                if !pendingCreates.isEmpty, Bool.random(using: &generator) {
                    let room = pendingCreates.remove(at: Int.random(in: 0..<pendingCreates.count, using: &generator))
                    if Int.random(in: 0..<10, using: &generator) > 0 { plan.roomOpened(room, code: "R\(room)") }
                }
            }
            #expect(joinsPerRoom.values.allSatisfy { $0 <= players - 1 })
            #expect(plan.largestRoom <= players)
            #expect(plan.largestRoom == players, "rooms should fill up")
        }
    }

    @Test("A joiner only gets a place once its room exists")
    func noPlaceBeforeTheRoomExists() {
        var plan = JoinStormPlan(playersPerRoom: 3)
        #expect(plan.next() == .create(room: 0))
        #expect(plan.next() == .create(room: 1))
        plan.roomOpened(0, code: "AAAAAA")
        #expect(plan.next() == .join(room: 0, code: "AAAAAA"))
        #expect(plan.next() == .join(room: 0, code: "AAAAAA"))
        #expect(plan.next() == .create(room: 2))
    }

    @Test("Slow players are spread over the rooms, never the creator")
    func slowPlayers() {
        let perRoom = (0..<10).map { SlowConsumerScenario.slowPlayers(inRoom: $0, players: 4, percent: 25) }
        #expect(perRoom == Array(repeating: 1, count: 10))
        let tenPercent = (0..<10).map { SlowConsumerScenario.slowPlayers(inRoom: $0, players: 2, percent: 10) }
        #expect(tenPercent.reduce(0, +) == 2)
        #expect((0..<10).allSatisfy { SlowConsumerScenario.slowPlayers(inRoom: $0, players: 3, percent: 99) <= 2 })
    }
}
