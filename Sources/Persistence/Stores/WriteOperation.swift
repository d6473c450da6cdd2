/// One write the batching writer commits on a caller's behalf.
enum WriteOperation: Sendable {
    case insertScore(ScoreSubmission)
    case saveGame(SavedGame)
    case deleteSavedGame(playerName: String)
}

/// What a committed ``WriteOperation`` produced.
enum WriteOutcome: Sendable {
    case score(StoredScore)
    case done
}
