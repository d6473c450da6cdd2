/// Decides, for each arriving connection of a join storm, whether it opens a room or takes a
/// free place in one whose code is known. A room gets `playersPerRoom - 1` places once it
/// exists and never more, so the bench itself can never ask for a player beyond `max_players`.
struct JoinStormPlan: Sendable {
    enum Arrival: Sendable, Equatable {
        case create(room: Int)
        case join(room: Int, code: String)
    }

    let playersPerRoom: Int
    /// Players sent to each room so far (creator included).
    private(set) var playersSent: [Int: Int] = [:]
    private(set) var roomsCreated = 0
    private var openPlaces: [(room: Int, code: String)] = []
    private var nextOpenPlace = 0

    init(playersPerRoom: Int) {
        self.playersPerRoom = max(2, playersPerRoom)
    }

    /// What the next connection does.
    mutating func next() -> Arrival {
        if self.nextOpenPlace < self.openPlaces.count {
            let place = self.openPlaces[self.nextOpenPlace]
            self.nextOpenPlace += 1
            self.playersSent[place.room, default: 0] += 1
            if self.nextOpenPlace > 1_024, self.nextOpenPlace * 2 > self.openPlaces.count {
                self.openPlaces.removeFirst(self.nextOpenPlace)
                self.nextOpenPlace = 0
            }
            return .join(room: place.room, code: place.code)
        }
        let room = self.roomsCreated
        self.roomsCreated += 1
        self.playersSent[room] = 1
        return .create(room: room)
    }

    /// The server confirmed room `room` as `code`: its other places open.
    mutating func roomOpened(_ room: Int, code: String) {
        for _ in 1..<self.playersPerRoom { self.openPlaces.append((room, code)) }
    }

    /// The largest number of players sent to any one room.
    var largestRoom: Int { self.playersSent.values.max() ?? 0 }
}
