import CPython
import Glibc
import TidepoolCore

/// The channel's reading side: assembles requests from frames, queues
/// complete ones for the handlers, and applies `cancel` and `drain`.
///
/// Any thread may read (leader/follower, see `RequestQueue`'s read duty): the
/// main thread when no handler is active, a handler between requests (a
/// non-blocking read that spares the main thread a wake-up per request), or
/// the leader handler blocked in `poll`. `readMutex` makes each read and
/// decode exclusive; a thread holding the GIL only ever try-locks it, so
/// nobody holding it waits for the GIL.
///
/// EOF or a read error means the host is gone: the process exits at once
/// (this is how instances never outlive the host). A malformed frame means
/// the host is broken: exit 2.
final class Reader: @unchecked Sendable {
    // Invariant: `buffer`, `receiving`, `chunk` and `decoded` are only touched with
    // `readMutex` held; `server` is immutable.
    static let readSize = 256 << 10

    let server: InstanceServer
    private let readMutex = Lock()
    private var buffer: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: Reader.readSize)
    /// The frames of one read, reused (its capacity) from read to read.
    private var decoded: [InstanceInbound] = []
    /// Requests whose head arrived but not their end yet.
    private var receiving: [UInt32: PendingRequest] = [:]

    init(server: InstanceServer) {
        self.server = server
    }

    /// Blocks until the channel is readable or `timeoutMillis` passes
    /// (-1: no limit). Call without the GIL. (`poll`, not a blocking `recv`:
    /// a thread asleep in `recv` is also woken each time the host reads this
    /// instance's last response, when the socket's send space frees up, and
    /// sleeps again: one more context switch per request. `poll` waits for
    /// POLLIN alone.)
    func waitReadable(timeoutMillis: Int32) -> Bool {
        var poller = pollfd(fd: server.channel.fd, events: Int16(POLLIN), revents: 0)
        let ready = poll(&poller, 1, timeoutMillis)
        if ready < 0 && errno != EINTR {
            Diagnostics.exit(0, "poll on the channel failed (errno \(errno)); exiting")
        }
        return ready > 0
    }

    /// Reads what the channel holds now (without blocking) and handles its
    /// frames. Call without the GIL. `wake`: queued requests wake a standby
    /// handler (false when the caller will run them itself).
    func readAvailable(wake: Bool) {
        readMutex.lock()
        defer { readMutex.unlock() }
        readLocked(wake: wake, holdingGIL: false)
    }

    /// `readAvailable` for a handler holding the GIL: does nothing if another
    /// thread is reading. Returns true if it read anything.
    func tryReadAvailable() -> Bool {
        guard readMutex.tryLock() else { return false }
        defer { readMutex.unlock() }
        return readLocked(wake: false, holdingGIL: true)
    }

    @discardableResult
    private func readLocked(wake: Bool, holdingGIL: Bool) -> Bool {
        let fd = server.channel.fd
        var got = false
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n == 0 { _exit(0) }  // the host closed the channel
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { break }
                Diagnostics.exit(0, "channel read failed (errno \(errno)); exiting")
            }
            got = true
            buffer.append(contentsOf: chunk[0..<n])
            if n < chunk.count { break }
        }
        if got { decodeAndHandle(wake: wake, holdingGIL: holdingGIL) }
        return got
    }

    private func decodeAndHandle(wake: Bool, holdingGIL: Bool) {
        // Every complete frame is decoded before any is handled: a malformed
        // one ends the process before a request of its batch can start.
        // (A Result, not a throwing closure: typed throws through the
        // rethrowing withUnsafeBytes crashes the 6.3 compiler.)
        let result = buffer.withUnsafeBytes { raw -> Result<Int, FrameError> in
            var offset = 0
            do throws(FrameError) {
                while let (frame, used) = try FrameDecoder.decodeInbound(UnsafeRawBufferPointer(rebasing: raw[offset...])) {
                    decoded.append(frame)
                    offset += used
                }
            } catch { return .failure(error) }
            return .success(offset)
        }
        let consumed: Int
        switch result {
        case .success(let value): consumed = value
        case .failure(let error): Diagnostics.exit(2, "malformed frame from the host: \(error); exiting")
        }
        if consumed == buffer.count {
            buffer.removeAll(keepingCapacity: true)
        } else if consumed > 0 {
            buffer.removeFirst(consumed)
        }
        for frame in decoded { handle(frame, wake: wake, holdingGIL: holdingGIL) }
        decoded.removeAll(keepingCapacity: true)
    }

    private func handle(_ inbound: InstanceInbound, wake: Bool, holdingGIL: Bool) {
        let frame: Frame
        switch inbound {
        case .requestHead(let id, let head):
            guard receiving[id] == nil else {
                Diagnostics.exit(2, "the host sent a second head for request \(id); exiting")
            }
            server.queue.accepted()
            receiving[id] = PendingRequest(id: id, head: head, arrival: Clock.now())
            return
        case .frame(let other):
            frame = other
        }
        switch frame {
        case .requestHead:
            Diagnostics.exit(2, "internal error: a request head decoded as a Frame; exiting")
        case .requestBody(let id, let bytes):
            receiving[id]?.body.append(contentsOf: bytes)
        case .requestEnd(let id):
            if let request = receiving.removeValue(forKey: id) { server.queue.enqueue(request, wake: wake) }
        case .cancel(let id):
            if receiving.removeValue(forKey: id) != nil {
                endCancelled(id, holdingGIL: holdingGIL)
            } else if server.queue.cancel(id) == .removed {
                endCancelled(id, holdingGIL: holdingGIL)
            }
        case .drain:
            if server.queue.startDraining() { server.exitAfterDrain() }
        case .ready, .responseHead, .responseBody, .responseEnd, .log, .stats, .forkInstance, .forked, .failed:
            Diagnostics.exit(2, "the host sent a \(frame.kind) frame, which instances never receive; exiting")
        }
    }

    /// Answers for a request that never reached a handler.
    private func endCancelled(_ id: UInt32, holdingGIL: Bool) {
        let bytes = FrameEncoder.encode(.responseEnd(id: id, ResponseEnd(cpuNanos: 0, wallNanos: 0, outcome: .aborted(reason: "cancelled"))))
        if holdingGIL { server.channel.writeHoldingGIL(bytes) } else { server.channel.write(bytes) }
        if server.queue.finished(id) { server.exitAfterDrain() }
    }
}
