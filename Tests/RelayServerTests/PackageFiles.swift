import Foundation

/// The package's own files, for the tests that hold its documents to its code.
enum PackageFiles {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The text of the document at `path`, from the package's root.
    static func text(of path: String) throws -> String {
        try String(contentsOf: Self.root.appendingPathComponent(path), encoding: .utf8)
    }

    /// Every Swift file under `folder` (from the package's root), with its path from there.
    static func swiftFiles(under folder: String) throws -> [(path: String, text: String)] {
        var found: [(path: String, text: String)] = []
        let files = FileManager.default.enumerator(
            at: Self.root.appendingPathComponent(folder), includingPropertiesForKeys: nil)
        while let file = files?.nextObject() as? URL {
            guard file.pathExtension == "swift" else { continue }
            let path = file.path.replacingOccurrences(of: Self.root.path + "/", with: "")
            found.append((path, try String(contentsOf: file, encoding: .utf8)))
        }
        return found
    }

    /// Every Swift file under `folder` (from the package's root), one after another.
    static func swiftSources(under folder: String) throws -> String {
        try Self.swiftFiles(under: folder).map(\.text).joined()
    }
}
