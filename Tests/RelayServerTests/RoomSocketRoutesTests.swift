import Testing

@testable import RelayServer

@Suite("Room socket paths")
struct RoomSocketRoutesTests {
    @Test("A room socket keeps its path's room id, or `new` for none or one no room code could be")
    func keptRoomID() {
        #expect(RoomSocketRoutes.keptRoomID(inPath: "/ws/room/ABC234?client=game") == "ABC234")
        #expect(RoomSocketRoutes.keptRoomID(inPath: "http://host/ws/room/ABC234") == "ABC234")
        #expect(RoomSocketRoutes.keptRoomID(inPath: "/ws/room/new") == "new")
        #expect(RoomSocketRoutes.keptRoomID(inPath: "/ws/room/" + String(repeating: "A", count: 32)).count == 32)
        // A head's worth of id (up to 16 KiB) was kept for the socket's life.
        #expect(RoomSocketRoutes.keptRoomID(inPath: "/ws/room/" + String(repeating: "A", count: 33)) == "new")
        #expect(RoomSocketRoutes.keptRoomID(inPath: "/ws/room/" + String(repeating: "A", count: 16_000)) == "new")
    }
}
