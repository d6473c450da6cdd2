import Foundation
import Hummingbird
import Logging
import NIOCore
import _NIOFileSystem

/// Boss portraits served from a folder as `boss_NN.png`.
///
/// Each image is read whole before its answer starts, so a file that cannot be read (a folder
/// of that name, no file descriptor left, a disk error) gets a JSON error rather than a 200
/// whose body breaks off: a streamed body could only fail after its status line was sent.
///
/// What was read is kept (``ImageCache``) while the file's size and modification time stay the
/// same, and every answer shares those bytes: before, each request read its own copy, and a
/// client that pipelined requests for an 8 MiB image and read slowly pinned 8 MiB per request.
///
/// A file replaced in place (`cp` truncates it, then writes) is read part-way by requests meanwhile:
/// a read is served and kept only if the file has as many bytes as were read and the same size and
/// modification time after the read as before it. A read while the writer pauses passes that test;
/// so a file modified less than ``settlingSeconds`` ago is served without the immutable cache.
struct BossImages: Sendable {
    let directory: String
    private let cache = ImageCache()
    /// Reads a whole file: ``readWholeFile(_:)``, or in tests one that changes the file under the read.
    private let readFile: @Sendable (FilePath) async throws -> ByteBuffer
    /// A broken image folder fails every request for an image, and any client may send them:
    /// each kind of problem is logged at its level once an interval, its repeats at debug.
    private let problemLogs: [String: WarningThrottle]
    /// Larger files are refused (500) rather than held in memory.
    static let maxImageBytes: Int64 = 8 * 1024 * 1024
    /// Reads of a file that changes under each of them, before the answer is a 503.
    static let readAttempts = 3
    /// Until a file was last modified this long ago, it may still be being written.
    static let settlingSeconds = 10

    /// An image's bytes, whole, and the version of the file they were read from.
    struct Image {
        let bytes: ByteBuffer
        let version: ImageCache.Version
    }

    init(
        directory: String, problemLogInterval: Duration = .seconds(10),
        readFile: @escaping @Sendable (FilePath) async throws -> ByteBuffer = BossImages.readWholeFile
    ) {
        self.directory = directory
        self.readFile = readFile
        self.problemLogs = Dictionary(
            uniqueKeysWithValues: Self.problems.map { ($0, WarningThrottle(interval: problemLogInterval)) })
    }

    /// The problems an image request can log.
    static let problems = ["boss_image.unreadable", "boss_image.too_large", "boss_image.changing"]

    /// Logs a problem of the image folder's at `level`, or at debug if the same kind was logged lately.
    private func logProblem(
        _ message: Logger.Message, level: Logger.Level, _ metadata: Logger.Metadata, to logger: Logger
    ) {
        let throttled = self.problemLogs[message.description]?.shouldWarn() == false
        logger.log(level: throttled ? .debug : level, message, metadata: metadata)
    }

    @Sendable static func readWholeFile(_ path: FilePath) async throws -> ByteBuffer {
        try await ByteBuffer(contentsOf: path, maximumSizeAllowed: .bytes(Self.maxImageBytes))
    }

    /// `NN` in `boss_NN.png`: at least two digits, as Python's `{:02d}`.
    static func fileNumber(_ index: Int64) -> String {
        (0..<10).contains(index) ? "0\(index)" : "\(index)"
    }

    /// The PNG with a year-long immutable cache, or a (non-cacheable) error. A file modified just
    /// now gets the API's no-store caching instead (``SecurityHeaders``): its whole may come later.
    func response(forBossIndex index: Int64, logger: Logger) async throws -> Response {
        let image = try await self.image(forBossIndex: index, logger: logger)
        var headers: HTTPFields = [.contentType: "image/png"]
        if Self.hasSettled(image.version) { headers[.cacheControl] = "public, max-age=31536000, immutable" }
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: image.bytes))
    }

    /// Whether a file at `version` was last modified ``settlingSeconds`` before `now` (seconds since
    /// 1970) or earlier; a modification time in the future counts as just now.
    static func hasSettled(_ version: ImageCache.Version, now: Int = Int(Date().timeIntervalSince1970)) -> Bool {
        version.modified.seconds <= now - Self.settlingSeconds
    }

    /// The image, read whole.
    ///
    /// Not a regular file (missing, a folder, a FIFO that would block the read) → 404; too large
    /// or unreadable → 500; no file descriptor left, or still changing after ``readAttempts``
    /// reads → 503. The causes of 500 and 503 are logged.
    func image(forBossIndex index: Int64, logger: Logger) async throws -> Image {
        guard index >= 0 else { throw APIError.bossImageNotFound(index: index) }
        let path = FilePath("\(self.directory)/boss_\(Self.fileNumber(index)).png")
        for _ in 0..<Self.readAttempts {
            if let image = try await self.image(at: path, index: index, logger: logger) { return image }
        }
        self.logProblem(
            "boss_image.changing", level: .warning, ["path": "\(path)", "reads": "\(Self.readAttempts)"], to: logger)
        throw APIError.storageBusy
    }

    /// The image at `path`, or nil when the file changed while being read.
    private func image(at path: FilePath, index: Int64, logger: Logger) async throws -> Image? {
        let found: FileInfo?
        do {
            found = try await FileSystem.shared.info(forFileAt: path)
        } catch let error as FileSystemError where Self.failed(error, with: .notDirectory) {
            found = nil  // the folder named is a file: no image in it
        } catch {
            // The folder lost its search permission, a link loops: the operator's to mend, not a 404.
            self.logProblem(
                "boss_image.unreadable", level: .error, ["path": "\(path)", "error": "\(error)"], to: logger)
            throw APIError.internalError
        }
        guard let info = found, info.type == .regular else { throw APIError.bossImageNotFound(index: index) }
        guard info.size <= Self.maxImageBytes else {
            self.logProblem(
                "boss_image.too_large", level: .error, ["path": "\(path)", "bytes": "\(info.size)"], to: logger)
            throw APIError.internalError
        }
        let version = ImageCache.Version(info)
        do {
            let bytes = try await self.cache.bytes(of: path, version) { try await self.read(path, at: version) }
            return Image(bytes: bytes, version: version)
        } catch is FileChangedWhileRead {
            return nil
        } catch let error as FileSystemError where error.code == .notFound {
            throw APIError.bossImageNotFound(index: index)  // removed since it was looked up
        } catch {
            self.logProblem(
                "boss_image.unreadable", level: .error, ["path": "\(path)", "error": "\(error)"], to: logger)
            throw Self.isOutOfFileDescriptors(error) ? APIError.storageBusy : APIError.internalError
        }
    }

    /// Reads `path` whole, if it is still at `version` once read, with as many bytes as were read.
    private func read(_ path: FilePath, at version: ImageCache.Version) async throws -> ByteBuffer {
        let bytes = try await self.readFile(path)
        guard bytes.readableBytes == version.size,
            let after = try? await FileSystem.shared.info(forFileAt: path), ImageCache.Version(after) == version
        else { throw FileChangedWhileRead() }
        return bytes
    }

    /// EMFILE or ENFILE: the process or the system has no file descriptor left, for now.
    static func isOutOfFileDescriptors(_ error: any Error) -> Bool {
        guard let error = error as? FileSystemError else { return false }
        return Self.failed(error, with: .tooManyOpenFiles) || Self.failed(error, with: .tooManyOpenFilesInSystem)
    }

    /// Whether `error` is a system call's that failed with `errno`.
    private static func failed(_ error: FileSystemError, with errno: Errno) -> Bool {
        (error.cause as? FileSystemError.SystemCallError)?.errno == errno
    }
}

/// The file changed while being read: what was read is neither served nor kept.
private struct FileChangedWhileRead: Error {}
