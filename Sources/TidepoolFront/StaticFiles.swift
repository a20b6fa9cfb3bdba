import CEvent
import Glibc
import TidepoolProject

/// `public/**` served by the front itself, at the URL path without `public/`
/// (Vercel's convention). Path traversal is impossible: NUL bytes and `..`
/// segments are refused before touching the file system, and the resolved
/// real path (symlinks followed) must lie inside the real public directory.
struct StaticFiles {
    /// Real path of the public directory, with a trailing slash.
    let rootPrefix: String
    /// What is certainly not there, without a `stat` (nil: always stat).
    private let index: PublicIndex?
    /// The last name `entry` resolved, for the `open` that follows it.
    private let lastResolved = LastResolved()

    init?(publicDirectory: String, loop: EventLoop? = nil) {
        guard let real = realpath(publicDirectory, nil) else { return nil }
        defer { free(real) }
        let rootPrefix = String(cString: real) + "/"
        self.rootPrefix = rootPrefix
        index = loop.flatMap { PublicIndex(rootPrefix: rootPrefix, loop: $0) }
    }

    /// A file to serve: its real path, opened descriptor, size and validators.
    struct File {
        let path: String
        let fd: Int32
        let size: Int
        let contentType: String
        let modifiedSeconds: Int
        let modifiedNanos: Int
        let inode: UInt64
    }

    /// The real path inside the public directory for a decoded URL path, or
    /// nil when it would leave it, names nothing, or cannot be a file name.
    /// `/` itself resolves to the directory.
    func resolve(decodedPath path: [UInt8]) -> String? {
        guard let candidate = candidate(decodedPath: path) else { return nil }
        return resolve(candidate: candidate)
    }

    /// The unresolved file name under the public directory for a decoded URL
    /// path, after the checks that need no file system: nil for NUL bytes,
    /// `..` segments, a path not starting with `/`, or invalid UTF-8.
    private func candidate(decodedPath path: [UInt8]) -> String? {
        guard path.first == UInt8(ascii: "/"), !path.contains(0) else { return nil }
        let segments = path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true)
        guard !segments.contains(where: { $0.elementsEqual("..".utf8) }) else { return nil }
        let relative = String(decoding: path.dropFirst(), as: UTF8.self)
        guard relative.utf8.count == path.count - 1 else { return nil }  // not valid UTF-8: no such file here
        return rootPrefix + relative
    }

    /// `candidate`'s checks on valid UTF-8: starts with `/`, no NUL, no `..` segment.
    private static func isCandidate(_ path: UnsafeRawBufferPointer) -> Bool {
        guard path.first == UInt8(ascii: "/") else { return false }
        var segmentStart = 0
        for i in 0...path.count {
            if i < path.count && path[i] == 0 { return false }
            guard i == path.count || path[i] == UInt8(ascii: "/") else { continue }
            if i - segmentStart == 2 && path[segmentStart] == UInt8(ascii: ".") && path[segmentStart + 1] == UInt8(ascii: ".") {
                return false
            }
            segmentStart = i + 1
        }
        return true
    }

    /// The file type `stat` finds at `rootPrefix` + `relative` (a C string
    /// built on the stack), or nil when it finds nothing.
    private func statType(relative: UnsafeRawBufferPointer) -> mode_t? {
        var root = rootPrefix
        return root.withUTF8 { root in
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: root.count + relative.count + 1) { name in
                let raw = UnsafeMutableRawBufferPointer(name)
                UnsafeMutableRawBufferPointer(rebasing: raw[..<root.count]).copyMemory(from: UnsafeRawBufferPointer(root))
                UnsafeMutableRawBufferPointer(rebasing: raw[root.count..<(root.count + relative.count)]).copyMemory(from: relative)
                name[root.count + relative.count] = 0
                var info = stat()
                guard name.withMemoryRebound(to: CChar.self, { stat($0.baseAddress!, &info) }) == 0 else { return nil }
                return info.st_mode & S_IFMT
            }
        }
    }

    /// `candidate`'s real path, if it lies inside the public directory.
    private func resolve(candidate: String) -> String? {
        switch Self.plainPath(candidate, below: rootPrefix) {
        case .plain: return candidate
        case .missing: return nil
        case .needsRealpath: break
        }
        guard let real = realpath(candidate, nil) else { return nil }
        let resolved = String(cString: real)
        free(real)
        guard resolved.hasPrefix(rootPrefix) || resolved + "/" == rootPrefix else { return nil }
        return resolved
    }

    enum PlainPath { case plain, missing, needsRealpath }

    /// Whether `candidate` is already its own real path: `rootPrefix` is real,
    /// so that holds when no name below it is a symlink (one `lstat` per name,
    /// against `realpath`'s `readlink` for every name from `/` down) and the
    /// rest has no `.` or empty segment to normalise. `.missing` when a name
    /// does not exist; `.needsRealpath` for a symlink or an odd shape.
    static func plainPath(_ candidate: String, below rootPrefix: String) -> PlainPath {
        let utf8 = Array(candidate.utf8)
        let rootLength = rootPrefix.utf8.count
        guard utf8.count > rootLength else { return .needsRealpath }
        var segmentStart = rootLength
        for i in rootLength...utf8.count where i == utf8.count || utf8[i] == UInt8(ascii: "/") {
            let segment = utf8[segmentStart..<i]
            if segment.isEmpty || segment.elementsEqual(".".utf8) { return .needsRealpath }
            var info = stat()
            let found = utf8.withUnsafeBytes { bytes in
                withUnsafeTemporaryAllocation(of: CChar.self, capacity: i + 1) { name in
                    UnsafeMutableRawBufferPointer(name).copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[..<i]))
                    name[i] = 0
                    return lstat(name.baseAddress!, &info) == 0
                }
            }
            guard found else { return .missing }
            if info.st_mode & S_IFMT == S_IFLNK { return .needsRealpath }
            segmentStart = i + 1
        }
        return .plain
    }

    /// What the router's file system phase sees at a URL path.
    ///
    /// Runs for every request the router may serve from `public/`, so for
    /// the common case (nothing there: the request goes to the app) it costs
    /// a set lookup in the inotify-kept `PublicIndex`, or without one a `stat`
    /// that fails, not `realpath`'s `readlink` per path component.
    /// Only a name that exists is resolved, which keeps the traversal check:
    /// a symlink out of the directory is still `.missing`. Both calls follow
    /// symlinks, so when `stat` fails `realpath` would have failed too.
    ///
    /// The failing `stat` gets its file name from a stack buffer, checked as
    /// `candidate` checks it, so a request for the app makes no array or
    /// String here; only a name that exists builds the candidate String.
    ///
    /// The resolved name is kept for the `open` of the same path that
    /// follows when the router picks a file (`LastResolved`), and when no
    /// symlink was involved the first `stat` already gave the type: a static
    /// reply resolves its name once, not twice.
    func entry(atURLPath path: String) -> PublicEntry {
        lastResolved.clear()  // a name is trusted from one lookup to its open, no longer
        var path = path
        let found = path.withUTF8 { bytes -> mode_t? in
            guard Self.isCandidate(UnsafeRawBufferPointer(bytes)) else { return nil }
            let relative = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(bytes).dropFirst())
            if let index, index.certainlyMissing(relative) { return nil }
            return statType(relative: relative)
        }
        guard var type = found else { return .missing }  // (before any array: the app's requests end here)
        let decoded = Array(path.utf8)
        guard let candidate = candidate(decodedPath: decoded), let resolved = resolve(candidate: candidate) else {
            return .missing
        }
        if resolved != candidate {  // through a symlink: the type of what it names
            var info = stat()
            guard stat(resolved, &info) == 0 else { return .missing }
            type = info.st_mode & S_IFMT
        }
        switch type {
        case S_IFREG:
            lastResolved.set(decoded, resolved)
            return .file
        case S_IFDIR: return .directory
        default: return .missing
        }
    }

    /// The regular file under the public directory for this decoded URL path,
    /// opened, or nil when there is none (the request then goes to the app).
    func open(decodedPath path: [UInt8]) -> File? {
        guard let resolved = lastResolved.take(path) ?? resolve(decodedPath: path), resolved.hasPrefix(rootPrefix)
        else { return nil }
        let fd = Glibc.open(resolved, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            Glibc.close(fd)
            return nil
        }
        return File(
            path: resolved, fd: fd, size: Int(info.st_size), contentType: MimeTypes.type(forFileName: resolved),
            modifiedSeconds: Int(info.st_mtim.tv_sec),
            modifiedNanos: Int(info.st_mtim.tv_sec) &* 1_000_000_000 &+ Int(info.st_mtim.tv_nsec),
            inode: UInt64(info.st_ino))
    }
}

/// `StaticFiles.entry`'s last resolved file, taken by the `open` of the same
/// decoded path while routing the same request (the router looks up, then
/// the front opens): kept no longer, since a name's real path can change
/// (a directory replaced by a symlink) and only a fresh resolve checks it.
/// Any other `open` resolves afresh. Used on the loop thread only.
final class LastResolved {
    private var path: [UInt8] = []
    private var resolved: String?

    func set(_ path: [UInt8], _ resolved: String) {
        self.path = path
        self.resolved = resolved
    }

    func clear() { resolved = nil }

    func take(_ path: [UInt8]) -> String? {
        defer { resolved = nil }
        return path == self.path ? resolved : nil
    }
}
