import Hummingbird
import NIOCore
import Persistence
import Synchronization
import _NIOFileSystem

/// `/api/bosses` (🔑) and the public boss images.
struct BossRoutes<Context: RequestContext> {
    let catalog: any BossCatalog
    let images: BossImages

    func register(keyed: RouterGroup<Context>, open: Router<Context>) {
        keyed.get("/api/bosses") { _, _ in
            try JSONResponse.make(try await self.catalog.bosses().map(BossResponse.init))
        }
        open.get("/api/bosses/images/{boss_index}") { _, context in
            let index = try Request.integer(context.parameters.get("boss_index") ?? "", location: ["path", "boss_index"])
            return try await self.images.response(forBossIndex: index, context: context)
        }
    }
}

/// Boss portraits served from a folder as `boss_NN.png`.
///
/// Each image is read whole before its answer starts, so a file that cannot be read (a folder
/// of that name, no file descriptor left, a disk error) gets a JSON error rather than a 200
/// whose body breaks off: a streamed body could only fail after its status line was sent.
///
/// What was read is kept (``ImageCache``) while the file's size and modification time stay the
/// same, and every answer shares those bytes: before, each request read its own copy, and a
/// client that pipelined requests for an 8 MiB image and read slowly pinned 8 MiB per request.
struct BossImages: Sendable {
    let directory: String
    private let cache = ImageCache()
    /// Larger files are refused (500) rather than held in memory.
    static let maxImageBytes: Int64 = 8 * 1024 * 1024

    init(directory: String) {
        self.directory = directory
    }

    /// `NN` in `boss_NN.png`: at least two digits, as Python's `{:02d}`.
    static func fileNumber(_ index: Int64) -> String {
        (0..<10).contains(index) ? "0\(index)" : "\(index)"
    }

    /// The PNG with a year-long immutable cache, or a (non-cacheable) error.
    ///
    /// Not a regular file (missing, a folder, a FIFO that would block the read) → 404; too large
    /// or unreadable → 500; no file descriptor left → 503. The causes of 500 and 503 are logged.
    func response(forBossIndex index: Int64, context: some RequestContext) async throws -> Response {
        guard index >= 0 else { throw APIError.bossImageNotFound(index: index) }
        let path = FilePath("\(self.directory)/boss_\(Self.fileNumber(index)).png")
        guard let info = try? await FileSystem.shared.info(forFileAt: path), info.type == .regular else {
            throw APIError.bossImageNotFound(index: index)
        }
        guard info.size <= Self.maxImageBytes else {
            context.logger.error("boss_image.too_large", metadata: ["path": "\(path)", "bytes": "\(info.size)"])
            throw APIError.storageFailure
        }
        let version = ImageCache.Version(size: info.size, modified: info.lastDataModificationTime)
        let bytes: ByteBuffer
        do {
            bytes = try await self.cache.bytes(of: path, version) {
                try await ByteBuffer(contentsOf: path, maximumSizeAllowed: .bytes(Self.maxImageBytes))
            }
        } catch let error as FileSystemError where error.code == .notFound {
            throw APIError.bossImageNotFound(index: index)  // removed since it was looked up
        } catch {
            context.logger.error("boss_image.unreadable", metadata: ["path": "\(path)", "error": "\(error)"])
            throw Self.isOutOfFileDescriptors(error) ? APIError.storageBusy : APIError.storageFailure
        }
        return Response(
            status: .ok,
            headers: [.contentType: "image/png", .cacheControl: "public, max-age=31536000, immutable"],
            body: ResponseBody(byteBuffer: bytes)
        )
    }

    /// EMFILE or ENFILE: the process or the system has no file descriptor left, for now.
    static func isOutOfFileDescriptors(_ error: any Error) -> Bool {
        guard let cause = (error as? FileSystemError)?.cause as? FileSystemError.SystemCallError else { return false }
        return cause.errno == .tooManyOpenFiles || cause.errno == .tooManyOpenFilesInSystem
    }
}

/// The images read so far, by path, each with the size and modification time it was read at.
/// At most ``capacity`` of them (the folder is the operator's; a full cache forgets one). A read
/// under way is shared too: the first requests for an image, arriving together, each read their
/// own copy before (up to 8 MiB each).
final class ImageCache: Sendable {
    struct Version: Equatable, Sendable {
        let size: Int64
        let modified: FileInfo.Timespec
    }

    static let capacity = 64
    private let images = Mutex<[FilePath: (version: Version, bytes: ByteBuffer)]>([:])
    private let reads = Mutex<[FilePath: (version: Version, task: Task<ByteBuffer, any Error>)]>([:])

    /// The bytes of `path` at `version`: those kept, or those of the read under way, or those
    /// `read` reads (then kept). A failed read fails every request that waited for it; the next
    /// request reads again.
    func bytes(
        of path: FilePath, _ version: Version, reading read: @escaping @Sendable () async throws -> ByteBuffer
    ) async throws -> ByteBuffer {
        if let kept = self.bytes(of: path, version) { return kept }
        let task = self.reads.withLock { reads in
            if let under = reads[path], under.version == version { return under.task }
            let task = Task { try await read() }
            reads[path] = (version, task)
            return task
        }
        let result = await task.result
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

    /// Keeps `bytes`, read from `path` at `version` (a file changed while being read shows a new
    /// version at the next request, which then reads it again).
    func keep(_ bytes: ByteBuffer, of path: FilePath, _ version: Version) {
        self.images.withLock { images in
            if images[path] == nil, images.count >= Self.capacity, let any = images.keys.first {
                images[any] = nil
            }
            images[path] = (version, bytes)
        }
    }
}
