import Testing

@testable import RelayBenchKit

@Suite("What the bench's connections saw")
struct SocketEventsTests {
    /// A server may number every room's players alike (`p2` in each): keyed by id alone, the
    /// drops of one room's slow player were taken for every room's, and slow-consumer's wait
    /// ended at the first (a helper review's find).
    @Test("A drop is kept per room: the same player id in two rooms is two players")
    func disconnectAnnouncementsPerRoom() {
        let events = SocketEvents()
        let first = SocketEvents.PlayerInRoom(room: "AAAAAA", player: "p2")
        let second = SocketEvents.PlayerInRoom(room: "BBBBBB", player: "p2")
        events.recordDisconnectAnnouncement(of: first, at: 1)
        events.recordDisconnectAnnouncement(of: second, at: 2)
        events.recordDisconnectAnnouncement(of: first, at: 3)  // its room-mate heard it too: the first counts
        #expect(events.disconnectAnnouncements == [first: 1, second: 2])
    }
}
