import Testing

@testable import Relay

@Suite("PlayerState")
struct PlayerStateTests {
    @Test func slotsFollowTheSortedMovableKeys() {
        let kinds: [(String, RoomPlayer.MovableKind)] = [
            ("checkpoint", .number), ("facing_right", .bool), ("health", .number), ("is_alive", .bool),
            ("is_jumping", .bool), ("is_shooting", .bool), ("lives", .number), ("skin", .string),
            ("velocity_x", .number), ("velocity_y", .number), ("weapon", .string), ("x", .number), ("y", .number),
        ]
        #expect(PlayerState.keys == kinds.map(\.0))
        for (slot, (key, kind)) in kinds.enumerated() {
            #expect(PlayerState.slot(of: key) == slot)
            #expect(PlayerState.kinds[slot] == kind)
        }
        #expect(PlayerState.slot(of: "player_id") == nil)
        #expect(PlayerState.slot(of: "anim") == nil)
    }

    @Test func keysAndSlotsNameTheSameValues() {
        var state = PlayerState(number: 1)
        state["x"] = .number(12.5)
        #expect(state[slot: PlayerState.slot(of: "x")!] == .number(12.5))
        state[slot: PlayerState.slot(of: "weapon")!] = "laser"
        #expect(state["weapon"] == "laser")
        #expect(state["anim"] == nil, "only movable keys have values")
    }

    /// It trapped: a handler forwarding a key its client chose stopped the server (README names
    /// this state as a handler's to change).
    @Test func settingAKeyItDoesNotKeepOrNilChangesNothing() {
        var state = PlayerState(number: 1)
        let before = state
        state["hat"] = "red"
        state["skin"] = nil
        #expect(state == before)
        #expect(state["hat"] == nil)
    }

    @Test func fieldsHoldEveryMovableKey() {
        var state = PlayerState(number: 2)
        state["is_jumping"] = true
        let fields = state.fields
        #expect(Set(fields.keys) == Set(RoomPlayer.movableKeys.keys))
        #expect(fields["is_jumping"] == true)
        #expect(fields["skin"] == "alienPink")
        #expect(fields["x"] == .number(500))
    }

    @Test func equalityComparesEverySlot() {
        var first = PlayerState(number: 1)
        var second = PlayerState(number: 1)
        #expect(first == second)
        second["checkpoint"] = .integer(2)
        #expect(first != second)
        first["checkpoint"] = .integer(2)
        #expect(first == second)
        #expect(PlayerState(number: 1) != PlayerState(number: 2))
    }
}
