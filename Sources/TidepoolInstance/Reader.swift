import Glibc
import TidepoolCore

/// The channel's reading side, run on the main thread: assembles requests
/// from frames, queues complete ones for the handlers, applies `cancel` and
/// `drain`, and sends `stats` about once a second.
///
/// EOF or a read error means the host is gone: the process exits at once
/// (this is how instances never outlive the host). A malformed frame means
/// the host is broken: exit 2.
struct Reader {
    /// 400 ms: the scheduler wants stats every 250–500 ms to see CPU saturation promptly.
    static let statsInterval: UInt64 = 400_000_000
    static let readSize = 256 << 10

    let server: InstanceServer
    private var buffer: [UInt8] = []
    /// Requests whose head arrived but not their end yet.
    private var receiving: [UInt32: PendingRequest] = [:]
    private var lastStats: UInt64 = 0

    init(server: InstanceServer) {
        self.server = server
    }

    mutating func run() -> Never {
        let fd = server.channel.fd
        var chunk = [UInt8](repeating: 0, count: Reader.readSize)
        lastStats = Clock.now()
        while true {
            let elapsed = Clock.now() &- lastStats
            let timeout = elapsed >= Reader.statsInterval ? 0 : Int32((Reader.statsInterval - elapsed) / 1_000_000) + 1
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, timeout)
            if ready < 0 && errno != EINTR {
                Diagnostics.exit(0, "poll on the channel failed (errno \(errno)); exiting")
            }
            if ready > 0 {
                let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n == 0 { _exit(0) }  // the host closed the channel
                if n < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    Diagnostics.exit(0, "channel read failed (errno \(errno)); exiting")
                }
                buffer.append(contentsOf: chunk[0..<n])
                decodeAndHandle()
            }
            if Clock.now() &- lastStats >= Reader.statsInterval {
                lastStats = Clock.now()
                server.channel.send(.stats(InstanceStats(
                    rssBytes: Clock.residentBytes(), cpuNanos: Clock.processCPU(), inFlight: server.queue.inFlight
                )))
            }
        }
    }

    private mutating func decodeAndHandle() {
        // (A Result, not a throwing closure: typed throws through the
        // rethrowing withUnsafeBytes crashes the 6.3 compiler.)
        let result = buffer.withUnsafeBytes { raw -> Result<(frames: [Frame], consumed: Int), FrameError> in
            do throws(FrameError) { return .success(try FrameDecoder.decodeAll(raw)) } catch { return .failure(error) }
        }
        let decoded: (frames: [Frame], consumed: Int)
        switch result {
        case .success(let value): decoded = value
        case .failure(let error): Diagnostics.exit(2, "malformed frame from the host: \(error); exiting")
        }
        if decoded.consumed > 0 { buffer.removeFirst(decoded.consumed) }
        for frame in decoded.frames { handle(frame) }
    }

    private mutating func handle(_ frame: Frame) {
        switch frame {
        case .requestHead(let id, let head):
            guard receiving[id] == nil else {
                Diagnostics.exit(2, "the host sent a second head for request \(id); exiting")
            }
            server.queue.accepted()
            receiving[id] = PendingRequest(id: id, head: head, arrival: Clock.now())
        case .requestBody(let id, let bytes):
            receiving[id]?.body.append(contentsOf: bytes)
        case .requestEnd(let id):
            if let request = receiving.removeValue(forKey: id) { server.queue.enqueue(request) }
        case .cancel(let id):
            if receiving.removeValue(forKey: id) != nil {
                endCancelled(id)
            } else if server.queue.cancel(id) == .removed {
                endCancelled(id)
            }
        case .drain:
            if server.queue.startDraining() { server.exitAfterDrain() }
        case .ready, .responseHead, .responseBody, .responseEnd, .log, .stats, .forkInstance, .forked, .failed:
            Diagnostics.exit(2, "the host sent a \(frame.kind) frame, which instances never receive; exiting")
        }
    }

    /// Answers for a request that never reached a handler.
    private func endCancelled(_ id: UInt32) {
        server.channel.send(.responseEnd(id: id, ResponseEnd(cpuNanos: 0, wallNanos: 0, outcome: .aborted(reason: "cancelled"))))
        if server.queue.finished(id) { server.exitAfterDrain() }
    }
}
