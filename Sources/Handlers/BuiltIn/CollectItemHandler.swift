public import Relay

/// `collect_item` {item_type, item_id}: the first collector wins — room gets `item_collected`;
/// later ones get `item_already_collected`.
public struct CollectItemHandler: RoomMessageHandler {
    public let messageType = "collect_item"

    public init() {}

    public func handle(_ message: InboundMessage, from playerID: String, in room: isolated GameRoom) throws(RelayError)
    {
        let itemType = try message.string("item_type")
        let itemID = room.state.keptSpelling(ofItem: try message.string("item_id"), type: itemType)
        switch try room.state.collect(itemType: itemType, itemID: itemID, by: playerID) {
        case .collected(let coins, let score):
            var collected = OutboundMessage(type: "item_collected")
            collected.add("player_id", playerID)
            collected.add("item_type", itemType)
            collected.add("item_id", itemID)
            collected.add("player_coins", .integer(coins))
            collected.add("player_score", .integer(score))
            room.broadcast(collected.encoded())
        case .alreadyCollected:
            room.send(OutboundMessage.make(type: "item_already_collected", ["item_id": .string(itemID)]), to: playerID)
        }
    }
}
