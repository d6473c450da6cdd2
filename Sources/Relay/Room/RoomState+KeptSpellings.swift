import OrderedCollections

// Swift's strings are equal when canonically equivalent ("é" as one code point or as "e" and an
// accent), and the room finds its entities so; its clients compare the code points. Answers, and
// the fields a spawn or sync stores, name an entity as the room first kept it, so that every
// client knows which one is meant: a guest collecting a coin under another spelling would
// otherwise leave it drawn on every other screen, collected for the server.
extension RoomState {
    /// `id` as the room keeps that coin or power-up (`itemType`), tracked or collected; as given
    /// when it keeps neither.
    public func keptSpelling(ofItem id: String, type itemType: String) -> String {
        switch itemType {
        case "coin": Self.keptSpelling(of: id, in: self.coins, or: self.collectedCoins)
        case "powerup": Self.keptSpelling(of: id, in: self.powerups, or: self.collectedPowerups)
        default: id
        }
    }

    /// `id` as the room keeps that enemy, living, dead or departed; as given when it keeps none.
    public func keptSpelling(ofEnemy id: String) -> String {
        Self.keptSpelling(of: id, in: self.enemies, or: self.departedEnemies)
    }

    private static func keptSpelling<Value>(
        of id: String, in tracked: OrderedDictionary<String, Value>, or remembered: RememberedIDs
    ) -> String {
        if let index = tracked.index(forKey: id) { return tracked.keys[index] }
        return remembered.keptSpelling(of: id) ?? id
    }
}
