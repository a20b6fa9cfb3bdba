import Glibc

/// The names under `public/`, kept current by inotify, so a request for the
/// app (a URL path that names nothing there, the common case) is routed
/// without the failing `stat` it would otherwise cost on every request.
///
/// It only ever answers "certainly missing": a name it holds is still
/// checked on disk as before (`StaticFiles.entry`), and when it cannot be
/// sure (not built, a watch or listing failed, a symlink on the path, a
/// path with empty or `.` segments) it answers "don't know" and the caller
/// stats. A file added while serving is seen before the next request: the
/// kernel queues the inotify event when the file is created, and the loop
/// runs the (urgent) inotify callback ahead of every request read in the
/// same pass, marking the index stale; a stale index is rebuilt on its next use.
///
/// Loop-thread only, like the rest of the host.
final class PublicIndex {
    /// Real path of the public directory, with a trailing slash.
    private let rootPrefix: String
    private let inotify: Int32
    /// Relative paths of every entry ("css", "css/site.css"), no leading
    /// slash, as UTF-8 in byte order: a lookup is a binary search on the
    /// request's bytes, with no String made or hashed per request.
    private var names: [[UInt8]] = []
    /// Relative paths of the symlinks among them: a path through one is not
    /// watched (its target may be anywhere), so lookups through it stat.
    private var symlinks: [String] = []
    private var stale = true
    /// The index gave up (too many entries, watch limit, unreadable directory,
    /// the root itself moved or removed): every lookup stats, as before.
    private var disabled = false
    /// Above this many entries the index is not worth its memory: stat instead.
    static let maxEntries = 50_000

    private static let watchMask = UInt32(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF)

    /// Nil when inotify is unavailable (the caller then stats every time).
    init?(rootPrefix: String, loop: EventLoop) {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { return nil }
        self.rootPrefix = rootPrefix
        self.inotify = fd
        loop.watchReadable(fd, urgent: true) { [unowned self] in drain() }
    }

    deinit { close(inotify) }

    /// True only when `relative` (the URL path without its leading `/`, valid
    /// UTF-8, no NUL, no `..` segment) certainly names nothing under the root.
    func certainlyMissing(_ relative: UnsafeRawBufferPointer) -> Bool {
        if stale { rebuild() }
        guard !disabled, !relative.isEmpty else { return false }
        // Empty or `.` segments (and a trailing slash) resolve in ways a plain
        // name lookup does not model: let stat decide.
        var segmentStart = 0
        for i in 0...relative.count where i == relative.count || relative[i] == UInt8(ascii: "/") {
            let length = i - segmentStart
            if length == 0 || (length == 1 && relative[segmentStart] == UInt8(ascii: ".")) { return false }
            segmentStart = i + 1
        }
        if Self.contains(names, relative) { return false }
        for link in symlinks where relative.starts(with: link.utf8) && relative.dropFirst(link.utf8.count).first == UInt8(ascii: "/") {
            return false
        }
        return true
    }

    /// Whether `sorted` (in byte order) holds `name`.
    private static func contains(_ sorted: [[UInt8]], _ name: UnsafeRawBufferPointer) -> Bool {
        var low = 0, high = sorted.count
        while low < high {
            let mid = (low + high) / 2
            let order = sorted[mid].withUnsafeBytes { compare($0, name) }
            if order == 0 { return true }
            if order < 0 { low = mid + 1 } else { high = mid }
        }
        return false
    }

    /// `memcmp` order, the shorter first on a tie: the order `sorted(by: <)` gives `[UInt8]`s.
    private static func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Int {
        let common = min(a.count, b.count)
        if common > 0, let pa = a.baseAddress, let pb = b.baseAddress {
            let order = memcmp(pa, pb, common)
            if order != 0 { return Int(order) }
        }
        return a.count - b.count
    }

    /// Reads every queued event: any change of names makes the index stale;
    /// a lost queue or a lost root makes it unreliable for good.
    private func drain() {
        let size = 4096
        withUnsafeTemporaryAllocation(byteCount: size, alignment: 8) { buffer in
            while true {
                let count = read(inotify, buffer.baseAddress, size)
                guard count > 0 else { return }
                var offset = 0
                while offset + MemoryLayout<inotify_event>.size <= count {
                    let event = buffer.baseAddress!.advanced(by: offset).assumingMemoryBound(to: inotify_event.self).pointee
                    if event.mask & UInt32(IN_Q_OVERFLOW) != 0 {
                        stale = true  // events were lost: relist everything
                    } else if event.wd == rootWatch && event.mask & UInt32(IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED) != 0 {
                        disabled = true
                    } else if event.mask & (Self.watchMask | UInt32(IN_IGNORED)) != 0 {
                        stale = true
                    }
                    offset += MemoryLayout<inotify_event>.size + Int(event.len)
                }
            }
        }
    }

    private var rootWatch: Int32 = -1

    /// Lists the tree again and watches every directory in it (adding a watch
    /// already held is harmless). Watches of removed directories go by themselves.
    private func rebuild() {
        stale = false
        guard !disabled else { return }
        var listed: Set<String> = []
        var links: [String] = []
        let root = String(rootPrefix.dropLast())
        rootWatch = inotify_add_watch(inotify, root, Self.watchMask | UInt32(IN_ONLYDIR))
        guard rootWatch >= 0, list(directory: root, relative: "", into: &listed, links: &links) else {
            disableIndex()
            return
        }
        names = listed.map { Array($0.utf8) }.sorted { $0.lexicographicallyPrecedes($1) }
        symlinks = links
    }

    private func disableIndex() {
        disabled = true
        names = []
        symlinks = []
    }

    /// Adds the entries of `directory` (and below) to `names`; false when the
    /// index cannot be trusted (a directory unreadable or unwatched, too many entries).
    private func list(directory: String, relative: String, into names: inout Set<String>, links: inout [String]) -> Bool {
        guard let dir = opendir(directory) else { return false }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            let path = relative.isEmpty ? name : relative + "/" + name
            names.insert(path)
            guard names.count <= Self.maxEntries else { return false }
            var info = stat()
            guard lstat(directory + "/" + name, &info) == 0 else { continue }  // removed meanwhile: its event follows
            switch info.st_mode & S_IFMT {
            case S_IFLNK:
                links.append(path)
            case S_IFDIR:
                let full = directory + "/" + name
                guard inotify_add_watch(inotify, full, Self.watchMask | UInt32(IN_ONLYDIR | IN_DONT_FOLLOW)) >= 0,
                    list(directory: full, relative: path, into: &names, links: &links)
                else { return false }
            default:
                break
            }
        }
        return true
    }
}
