import Hummingbird

extension Parameters {
    /// A path parameter with its percent-encoding removed (`a%2Fb` → `a/b`).
    ///
    /// The router matches on the raw path, so an encoded `/` stays inside one segment.
    func decoded(_ name: String) -> String {
        let raw = self.get(name) ?? ""
        return raw.removingPercentEncoding ?? raw
    }
}

extension Request {
    /// A 64-bit integer from the path or query, or a 422 naming where it came from.
    static func integer(_ text: String, location: [LocationComponent]) throws(APIError) -> Int64 {
        guard let value = Int64(text) else {
            let message =
                text.allSatisfy({ $0.isNumber || $0 == "-" }) && !text.isEmpty
                ? "Input should be an integer between \(Int64.min) and \(Int64.max)"
                : "Input should be a valid integer, unable to parse string as an integer"
            throw .validation([ValidationIssue(loc: location, msg: message, type: "int_parsing")])
        }
        return value
    }

    /// An optional, non-empty query value.
    func query(_ name: String) -> String? {
        guard let value = self.uri.queryParameters.get(name), !value.isEmpty else { return nil }
        return value
    }
}
