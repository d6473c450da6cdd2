extension String {
    /// This text as it may go into a log line: controls and format characters (newlines, carriage
    /// returns, escape sequences, bidirectional overrides) and line separators escaped as `\u{…}`,
    /// so that what a plugin writes cannot forge log lines of its own or repaint the operator's
    /// terminal.
    init(loggable bytes: some Collection<UInt8>) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.unicodeScalars.contains(where: \.isUnloggable) else {
            self = text
            return
        }
        var escaped = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar.isUnloggable {
                escaped.append(contentsOf: "\\u{\(String(scalar.value, radix: 16))}".unicodeScalars)
            } else {
                escaped.append(scalar)
            }
        }
        self = String(escaped)
    }
}

extension Unicode.Scalar {
    fileprivate var isUnloggable: Bool {
        switch self.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: true
        default: false
        }
    }
}
