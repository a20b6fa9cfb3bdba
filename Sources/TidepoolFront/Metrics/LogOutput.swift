import Glibc
import Synchronization

/// Log lines waiting for stderr, written in batches.
///
/// The access log writes one line per request; a `write(2)` each cost the
/// host a syscall per request. Lines are appended here instead and written
/// together: 20 ms after the first of them (the host schedules `flush`
/// then: `HostRuntime.logFlushSeconds`), when 64 KiB are waiting, before any
/// other log line (the CLI's handlers call `flush` first, so lines keep their
/// order), when the host stops, and at `exit`. Only a crash (a trap or a
/// fatal signal) can lose lines: those of its last 20 ms.
public enum LogOutput {
    /// Bytes not yet written. Appended on the loop thread; flushed from any
    /// thread that logs (a redeploy's preparation runs on its own thread).
    private static let pending = Mutex<[UInt8]>([])
    static let flushThreshold = 64 * 1024

    /// Queues `line` (with its newline). Returns true when the buffer was
    /// empty before, so the caller schedules a flush; a full buffer is written at once.
    static func append(_ line: UnsafeRawBufferPointer) -> Bool {
        pending.withLock { buffer in
            let wasEmpty = buffer.isEmpty
            buffer.append(contentsOf: line.assumingMemoryBound(to: UInt8.self))
            if buffer.count >= flushThreshold { write(&buffer) }
            return wasEmpty
        }
    }

    /// Writes every waiting line to stderr now.
    public static func flush() {
        pending.withLock { buffer in
            if !buffer.isEmpty { write(&buffer) }
        }
    }

    /// Flushes at `exit` too (a status thrown out of the CLI exits through it).
    public static func flushAtExit() {
        atexit { LogOutput.flush() }
    }

    /// Writes all of `buffer` (retrying short writes and EINTR) and empties it.
    /// A stderr that fails (closed, EPIPE) drops the lines, as fwrite would.
    private static func write(_ buffer: inout [UInt8]) {
        buffer.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(2, bytes.baseAddress! + offset, bytes.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    break
                }
            }
        }
        buffer.removeAll(keepingCapacity: buffer.capacity <= 4 * flushThreshold)
    }
}
