/// The handlers of the JumpJumpJump protocol (PROTOCOL.md §2), plus the `emote` example.
public enum BuiltInHandlers {
    /// One instance of each built-in handler, ready to register.
    public static var all: [any MessageHandler] {
        [
            CreateRoomHandler(), JoinRoomHandler(), ReconnectHandler(), LeaveRoomHandler(),
            PlayerReadyHandler(), StartGameHandler(), PlayerStateHandler(), GameActionHandler(),
            CollectItemHandler(), EnemySpawnHandler(), EnemyStateHandler(), EnemyKilledHandler(),
            CoinSpawnHandler(), PowerupSpawnHandler(), SyncEntitiesHandler(), ChatHandler(),
            PingHandler(), TimeSyncHandler(), EmoteHandler(),
        ]
    }
}
