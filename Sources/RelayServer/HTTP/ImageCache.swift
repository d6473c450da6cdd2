import NIOCore
import Synchronization
import _NIOFileSystem

/// The images read so far, by path, each with the size and times it was read at.
/// At most ``capacity`` of them (the folder is the operator's; a full cache forgets one). A read
/// under way is shared too: the first requests for an image, arriving together, each read their
/// own copy before (up to 8 MiB each).
final class ImageCache: Sendable {
    struct Version: Equatable, Sendable {
        let size: Int64
        let modified: FileInfo.Timespec
        /// The status change time too, which nobody can set: other bytes of the same size under
        /// the same modification time (`cp -p`, an archive's fixed dates) are another version.
        var changed = FileInfo.Timespec(seconds: 0, nanoseconds: 0)
    }

    static let capacity = 64
    private let images = Mutex<[FilePath: (version: Version, bytes: ByteBuffer)]>([:])
    private let reads = Mutex<[FilePath: (version: Version, task: Task<ByteBuffer, any Error>)]>([:])
    private let waiting = Mutex(0)

    /// How many requests are waiting for a read under way, theirs or another's (tests).
    var waitingRequests: Int { self.waiting.withLock { $0 } }

    /// The bytes of `path` at `version`: those kept, or those of the read under way, or those
    /// `read` reads (then kept). A failed read fails every request that waited for it; the next
    /// request reads again.
    func bytes(
        of path: FilePath, _ version: Version, reading read: @escaping @Sendable () async throws -> ByteBuffer
    ) async throws -> ByteBuffer {
        if let kept = self.bytes(of: path, version) { return kept }
        let task = self.reads.withLock { reads in
            if let under = reads[path], under.version == version { return under.task }
            // Unstructured on purpose: one read that every request for this version awaits,
            // so it outlives a requester that goes away (its cancellation does not fail the others).
            let task = Task { try await read() }
            reads[path] = (version, task)
            return task
        }
        self.waiting.withLock { $0 += 1 }
        let result = await task.result
        self.waiting.withLock { $0 -= 1 }
        if case .success(let bytes) = result { self.keep(bytes, of: path, version) }
        self.reads.withLock { reads in
            if reads[path]?.task == task { reads[path] = nil }
        }
        return try result.get()
    }

    /// The bytes of `path` if they were read at `version`.
    func bytes(of path: FilePath, _ version: Version) -> ByteBuffer? {
        self.images.withLock { images in
            images[path].flatMap { $0.version == version ? $0.bytes : nil }
        }
    }

    /// Keeps `bytes`, read from `path` at `version`.
    func keep(_ bytes: ByteBuffer, of path: FilePath, _ version: Version) {
        self.images.withLock { images in
            if images[path] == nil, images.count >= Self.capacity, let any = images.keys.first {
                images[any] = nil
            }
            images[path] = (version, bytes)
        }
    }
}

extension ImageCache.Version {
    init(_ info: FileInfo) {
        self.init(size: info.size, modified: info.lastDataModificationTime, changed: info.lastStatusChangeTime)
    }
}
