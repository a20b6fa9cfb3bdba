import CPython
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

    /// Writes every byte of `bytes` from a thread that holds the GIL. The
    /// common case (write lock free, room in the socket buffer) is one
    /// non-blocking send with the GIL kept, which spares a GIL hand-off per
    /// response; only a busy lock or a full buffer releases the GIL to wait.
    func writeHoldingGIL(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        guard writeLock.tryLock() else {
            let thread = PyEval_SaveThread()
            write(bytes)
            PyEval_RestoreThread(thread)
            return
        }
        let sent = bytes.withUnsafeBytes { raw in Channel.sendWithoutBlocking(fd: fd, raw) }
        guard sent < bytes.count else {
            writeLock.unlock()
            return
        }
        // The write lock is released before the GIL is taken back: no thread
        // may ever wait for the GIL while holding it (a handler exiting after
        // a drain takes the write lock with the GIL held).
        let thread = PyEval_SaveThread()
        bytes.withUnsafeBytes { raw in Channel.writeAll(fd: fd, UnsafeRawBufferPointer(rebasing: raw[sent...])) }
        writeLock.unlock()
        PyEval_RestoreThread(thread)
    }

    /// Sends what fits now; returns how many bytes went.
    private static func sendWithoutBlocking(fd: Int32, _ raw: UnsafeRawBufferPointer) -> Int {
        var offset = 0
        while offset < raw.count {
            let n = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { break }
                Diagnostics.exit(0, "channel write failed (errno \(errno)): the host is gone, exiting")
            }
            offset += n
        }
        return offset
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
        bytes.withUnsafeBytes { raw in writeAll(fd: fd, raw) }
    }

    private static func writeAll(fd: Int32, _ raw: UnsafeRawBufferPointer) {
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
