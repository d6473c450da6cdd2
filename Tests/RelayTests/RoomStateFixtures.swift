import Testing

@testable import Relay

/// A room with `players` already added (ids "p1", "p2", …, tokens "t1", "t2", …), sharing
/// `entityMemory` with other rooms if given.
func makeRoom(
    maxPlayers: Int = 2, players count: Int = 0, limits: RelayLimits = RelayLimits(),
    entityMemory: MemoryBudget? = nil
) throws -> RoomState {
    var room = RoomState(
        roomID: "ABC234", roomName: "Test room", hostID: "", maxPlayers: maxPlayers, limits: limits, seed: 4242,
        entityMemory: entityMemory)
    for index in stride(from: 1, through: count, by: 1) {
        _ = try room.addPlayer(id: "p\(index)", name: "Player \(index)", reconnectToken: "t\(index)")
    }
    return room
}

/// A two-player room whose game has started (host p1).
func startedRoom(limits: RelayLimits = RelayLimits()) throws -> RoomState {
    var room = try makeRoom(players: 2, limits: limits)
    _ = room.setReady("p1", true)
    _ = room.setReady("p2", true)
    try room.startGame(by: "p1", nowMilliseconds: 1_000)
    return room
}

/// The error `body` throws.
func relayError(_ body: () throws -> Void) -> RelayError? {
    do {
        try body()
        return nil
    } catch let error as RelayError {
        return error
    } catch {
        Issue.record("unexpected error \(error)")
        return nil
    }
}
