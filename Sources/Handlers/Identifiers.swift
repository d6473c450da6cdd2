/// Random identifiers the server hands out; public for handlers that admit members themselves.
public enum Identifiers {
    /// 16 hex characters, as the old backend's `secrets.token_hex(8)`.
    public static func playerID() -> String { self.hex(bytes: 8) }
    /// 32 hex characters of randomness proving a reconnect.
    public static func reconnectToken() -> String { self.hex(bytes: 16) }

    private static func hex(bytes count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in
            let byte = UInt8.random(in: .min ... .max, using: &generator)
            return (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }.joined()
    }
}
