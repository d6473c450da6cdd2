import CSystemSQLite
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Makes SQLite's writes to the files in one folder fail with an `errno`, as a filesystem would
/// (a quota's `EDQUOT`, a failing disk's `EIO`), where the machine has no such filesystem to
/// mount (this kernel has no quotas). Goes through the unix VFS's table of system calls
/// (`xSetSystemCall`, SQLite's own hook for such tests), replaced once for the whole process;
/// writes to every other file go through unchanged, so tests running beside these are not touched.
enum InjectedWriteErrors {
    /// Folder (with a trailing "/") → the errno its files' writes fail with.
    private static let failing = Mutex<[String: Int32]>([:])
    private static let anyFailing = Atomic<Bool>(false)

    /// Runs `body` while every write SQLite makes to a file in `folder` fails with `code`.
    static func failingWrites<T>(in folder: URL, with code: Int32, _ body: () async throws -> T) async rethrows -> T {
        try await Self.failingWrites(toPathsStartingWith: folder.resolvingSymlinksInPath().path + "/", with: code, body)
    }

    /// Runs `body` while every write SQLite makes to the file at `path` (with its symbolic links
    /// resolved: the path `/proc` gives) fails with `code`.
    static func failingWrites<T>(
        toFile path: String, with code: Int32, _ body: () async throws -> T
    ) async rethrows -> T {
        try await Self.failingWrites(toPathsStartingWith: path, with: code, body)
    }

    private static func failingWrites<T>(
        toPathsStartingWith prefix: String, with code: Int32, _ body: () async throws -> T
    ) async rethrows -> T {
        _ = Self.installed
        // The flag is set under the lock, with the folders: tests beside this one add and remove
        // theirs at the same time.
        Self.failing.withLock { failing in
            failing[prefix] = code
            Self.anyFailing.store(true, ordering: .sequentiallyConsistent)
        }
        defer {
            Self.failing.withLock { failing in
                failing[prefix] = nil
                Self.anyFailing.store(!failing.isEmpty, ordering: .sequentiallyConsistent)
            }
        }
        return try await body()
    }

    /// The errno a write to `descriptor` fails with, if its file is in a failing folder.
    fileprivate static func injectedError(for descriptor: Int32) -> Int32? {
        guard Self.anyFailing.load(ordering: .sequentiallyConsistent) else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/fd/\(descriptor)", &buffer, buffer.count - 1)
        guard length > 0 else { return nil }
        let path = String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return Self.failing.withLock { failing in failing.first { path.hasPrefix($0.key) }?.value }
    }

    /// Replaces the write calls the unix VFS has (`pwrite64`, `pwrite`, `write`: which of them it
    /// uses depends on how SQLite was built) with ones that consult ``injectedError(for:)``.
    private static let installed: Void = {
        guard let vfs = sqlite3_vfs_find("unix"), let get = vfs.pointee.xGetSystemCall,
            let set = vfs.pointee.xSetSystemCall
        else { fatalError("SQLite has no unix VFS with a table of system calls") }
        if let original = get(vfs, "pwrite64") {
            originalPWrite64.store(unsafeBitCast(original, to: UInt.self), ordering: .releasing)
            _ = set(vfs, "pwrite64", unsafeBitCast(failingPWrite64, to: sqlite3_syscall_ptr.self))
        }
        if let original = get(vfs, "pwrite") {
            originalPWrite.store(unsafeBitCast(original, to: UInt.self), ordering: .releasing)
            _ = set(vfs, "pwrite", unsafeBitCast(failingPWrite, to: sqlite3_syscall_ptr.self))
        }
        if let original = get(vfs, "write") {
            originalWrite.store(unsafeBitCast(original, to: UInt.self), ordering: .releasing)
            _ = set(vfs, "write", unsafeBitCast(failingWrite, to: sqlite3_syscall_ptr.self))
        }
    }()
}

private typealias PositionedWrite = @convention(c) (Int32, UnsafeRawPointer?, Int, off_t) -> Int
private typealias PlainWrite = @convention(c) (Int32, UnsafeRawPointer?, Int) -> Int

// Set once, before the replacements that call them are installed (``InjectedWriteErrors/installed``).
// Atomic: tests beside the one that installs them may be writing through SQLite already, on
// threads that see the replacement as soon as SQLite's table holds it (ThreadSanitizer found the
// race with plain variables).
private let originalPWrite64 = Atomic<UInt>(0)
private let originalPWrite = Atomic<UInt>(0)
private let originalWrite = Atomic<UInt>(0)

/// The original call stored in `slot`, or nil while none is.
private func original<Call>(_ slot: borrowing Atomic<UInt>, as _: Call.Type) -> Call? {
    let address = slot.load(ordering: .acquiring)
    return address == 0 ? nil : unsafeBitCast(address, to: Call.self)
}

private let failingPWrite64: PositionedWrite = { descriptor, bytes, count, offset in
    if let code = InjectedWriteErrors.injectedError(for: descriptor) {
        errno = code
        return -1
    }
    // pwrite is the same call with a 64-bit off_t.
    return (original(originalPWrite64, as: PositionedWrite.self) ?? pwrite)(descriptor, bytes, count, offset)
}

private let failingPWrite: PositionedWrite = { descriptor, bytes, count, offset in
    if let code = InjectedWriteErrors.injectedError(for: descriptor) {
        errno = code
        return -1
    }
    return (original(originalPWrite, as: PositionedWrite.self) ?? pwrite)(descriptor, bytes, count, offset)
}

private let failingWrite: PlainWrite = { descriptor, bytes, count in
    if let code = InjectedWriteErrors.injectedError(for: descriptor) {
        errno = code
        return -1
    }
    return (original(originalWrite, as: PlainWrite.self) ?? write)(descriptor, bytes, count)
}
