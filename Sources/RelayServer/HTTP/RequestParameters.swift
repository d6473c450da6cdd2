import Foundation
import Hummingbird
import Relay

extension Parameters {
    /// A path parameter with its percent-encoding removed (`a%2Fb` → `a/b`).
    ///
    /// The router matches on the raw path, so an encoded `/` stays inside one segment.
    func decoded(_ name: String) -> String {
        let raw = self.get(name) ?? ""
        return raw.removingPercentEncoding ?? raw
    }

    /// A player name from the path, trimmed as names are when stored, so that `/api/load_game/%20dave`
    /// finds the game saved as `" dave "` (stored as `dave`).
    func playerName(_ name: String = "player_name") -> String {
        self.decoded(name).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

extension Request {
    /// A 64-bit integer from the path or query, read as pydantic reads one (``LaxInteger``), or a
    /// 422 naming where it came from.
    static func integer(_ text: String, location: [LocationComponent]) throws(APIError) -> Int64 {
        switch LaxInteger.parse(text) {
        case .success(let value): return value
        case .failure(let failure): throw .validation([.integer(failure, at: location, input: .string(text))])
        }
    }

    /// A query value as FastAPI reads a form-encoded query: `+` is a space (a browser's
    /// `URLSearchParams` writes spaces so), names are percent-decoded like values, the last of a
    /// repeated parameter wins, and a parameter without a value (`?limit=`, `?limit`) is `""`.
    func query(_ name: String) -> String? {
        guard let query = self.uri.query else { return nil }
        var value: String?
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard Self.formDecoded(parts[0]) == name else { continue }
            value = parts.count > 1 ? Self.formDecoded(parts[1]) : ""
        }
        return value
    }

    /// `?game_mode=`, trimmed as stored modes are; empty means every mode, as the old backend's
    /// `if game_mode:` read it.
    var gameModeFilter: String? {
        guard let mode = self.query("game_mode"), !mode.isEmpty else { return nil }
        return mode.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// `text` with `+` as a space and percent-escapes decoded (left as they are when malformed).
    private static func formDecoded(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}
