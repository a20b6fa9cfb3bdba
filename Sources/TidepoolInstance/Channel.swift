import Glibc
import TidepoolCore

/// The instance's end of its `socketpair` with the host.
///
/// Writes come from every handler thread and from the reader (stats), so a
/// single mutex covers each whole write: frames never interleave. The host is
/// the only reason this process exists, so a write that fails (the host is
/// gone) ends the process at once, like EOF on the reading side does.
final class Channel: @unchecked Sendable {
    // Invariant: `fd` is immutable; all writes happen with `writeLock` held.
    let fd: Int32
    private let writeLock = Lock()

    init(fd: Int32) {
        self.fd = fd
    }

    /// Writes every byte of `bytes` (looping on partial writes and EINTR).
    /// Callers must not hold the GIL: this can block on a full socket buffer.
    func write(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        writeLock.lock()
        defer { writeLock.unlock() }
        Channel.writeAll(fd: fd, bytes)
    }

    /// Encodes and writes one frame.
    func send(_ frame: Frame) {
        write(FrameEncoder.encode(frame))
    }

    /// Takes the write lock for good, so that `_exit` never cuts a frame in half.
    func lockForExit() {
        writeLock.lock()
    }

    /// The unlocked write loop, also used by the single-threaded template.
    static func writeAll(fd: Int32, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    Diagnostics.exit(0, "channel write failed (errno \(errno)): the host is gone, exiting")
                }
                offset += n
            }
        }
    }
}
