import Glibc

/// Last-resort diagnostics written straight to fd 2. The instance has no
/// logger of its own: anything the host should see travels as a `log` frame;
/// this is for when the channel itself is broken (or not yet usable).
enum Diagnostics {
    static func write(_ message: String) {
        var line = "tidepool[\(getpid())]: \(message)"
        if !line.hasSuffix("\n") { line += "\n" }
        var bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }

    /// Exits at once with `code` after a line on stderr, without running
    /// atexit handlers or Python finalisation (other threads may hold the GIL).
    static func exit(_ code: Int32, _ message: String) -> Never {
        write(message)
        _exit(code)
    }
}
