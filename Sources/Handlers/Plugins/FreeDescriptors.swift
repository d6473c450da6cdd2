#if canImport(Glibc)
    import Glibc
#else
    import Darwin
#endif

/// The file descriptors the process may still open: what a plugin's start needs, and what the
/// connection cap keeps free (`ConnectionCap`). swift-subprocess takes up to 9 for a start (three
/// pipes, a process descriptor and their spares); a start with fewer free ended the process
/// (`FileDescriptor … was not closed`, one free) or lost the plugin's exit for good, leaving a
/// zombie and a stop that never ended (two free).
package enum FreeDescriptors {
    /// What a plugin's start is let go with: its 9, and one for what an event loop opens meanwhile.
    static let neededToStartAPlugin = 10

    /// Why a plugin cannot start with `free` descriptors free, if it cannot.
    static func shortageForAPluginStart(free: Int?) -> String? {
        guard let free, free < Self.neededToStartAPlugin else { return nil }
        return "only \(free) file descriptors are free (ulimit -n); a start needs \(Self.neededToStartAPlugin)"
    }

    /// The open-file limit less the descriptors open now; nil where the system cannot say.
    package static func count() -> Int? {
        var limit = rlimit()
        #if canImport(Glibc)
            let (resource, descriptors) = (__rlimit_resource_t(RLIMIT_NOFILE.rawValue), "/proc/self/fd")
        #else
            let (resource, descriptors) = (RLIMIT_NOFILE, "/dev/fd")
        #endif
        guard getrlimit(resource, &limit) == 0 else { return nil }  // unlimited: clamped below
        guard let directory = opendir(descriptors) else { return nil }
        defer { closedir(directory) }
        var open = -1  // the listing's own
        while let entry = readdir(directory) {
            if entry.pointee.d_name.0 != CChar(UInt8(ascii: ".")) { open += 1 }
        }
        return Int(clamping: limit.rlim_cur) - open
    }
}
