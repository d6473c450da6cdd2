extension String {
    /// This text as it may go into a log line: controls and format characters (newlines, carriage
    /// returns, escape sequences, bidirectional overrides) and line separators escaped as `\u{…}`,
    /// so that what a plugin writes cannot forge log lines of its own or repaint the operator's
    /// terminal.
    init(loggable bytes: some Collection<UInt8>) {
        self.init(loggable: String(decoding: bytes, as: UTF8.self))
    }

    /// `text` as it may go into a log line (see ``init(loggable:)-(Collection<UInt8>)``); itself
    /// when it has nothing to escape.
    package init(loggable text: String) {
        guard text.unicodeScalars.contains(where: \.isControlOrFormat) else {
            self = text
            return
        }
        var escaped = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if scalar.isControlOrFormat {
                escaped.append(contentsOf: "\\u{\(String(scalar.value, radix: 16))}".unicodeScalars)
            } else {
                escaped.append(scalar)
            }
        }
        self = String(escaped)
    }
}

extension Unicode.Scalar {
    /// Cc, Cf, Zl and Zp: newlines, escapes, bidirectional overrides, line separators. None may
    /// go into a log line as it is, nor into a plugin's name.
    var isControlOrFormat: Bool {
        switch self.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: true
        default: false
        }
    }
}
