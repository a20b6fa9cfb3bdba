import CPython
import Glibc
import TidepoolCore

/// A serving instance: N handler threads that run the app, and the reader
/// (the process's main thread) that feeds them from the channel.
final class InstanceServer: @unchecked Sendable {
    // Invariant: every stored property is immutable after init. `channel` and
    // `queue` are thread-safe themselves; `runtime` and `environ` are only
    // used with the GIL held.
    let runtime: PythonRuntime
    let channel: Channel
    let queue = RequestQueue()
    let threads: Int
    let environ: Environ

    init(runtime: PythonRuntime, channelFD: Int32, threads: Int) {
        self.runtime = runtime
        self.channel = Channel(fd: channelFD)
        self.threads = max(1, threads)
        self.environ = Environ(runtime: runtime, multithread: self.threads > 1)
    }

    /// Starts the handlers, sends `ready` and reads the channel until it
    /// closes or a drain completes. Call on the main thread holding the GIL
    /// (right after start-up or fork); the GIL is released here for good.
    func serve(kind: StartKind, phases: [StartPhase]) -> Never {
        _ = PyEval_SaveThread()
        for index in 0..<threads {
            // Counted idle before it exists, so a request that arrives before
            // the new thread reaches `awaitWake` still gets a wake-up it will find.
            let parker = Parker()
            queue.addIdleHandler(parker)
            let context = Unmanaged.passRetained(HandlerContext(server: self, parker: parker)).toOpaque()
            var thread = pthread_t()
            let result = pthread_create(&thread, nil, handlerThreadMain, context)
            guard result == 0 else {
                channel.send(.failed(StartFailure(
                    phase: "threads",
                    message: "could not start handler thread \(index + 1) of \(threads): \(String(cString: strerror(result))); lower `threads`"
                )))
                _exit(1)
            }
            pthread_detach(thread)
        }
        channel.send(.ready(Ready(pid: getpid(), kind: kind, threads: UInt32(threads), phases: phases)))
        var reader = Reader(server: self)
        reader.run()
    }

    /// How much CPU time a handler spends running queued requests back to
    /// back before it lets the standby (and any thread back from I/O) have
    /// the GIL: Python's own forced switch only comes after 5 ms, which would
    /// delay requests finishing their I/O behind a stream of CPU-bound ones.
    /// CPU time, not wall time, so I/O-bound requests never end a turn.
    static let turnNanos: UInt64 = 1_000_000

    /// One handler thread: runs requests one at a time. It keeps the GIL
    /// from one request to the next while requests are waiting, and only
    /// releases it (and parks) when the queue is empty, so back-to-back
    /// requests cost no thread switch and no GIL hand-off.
    fileprivate func handlerLoop(_ parker: Parker) -> Never {
        // A thread state of our own for the life of the thread (so Python
        // thread-locals survive between requests), GIL released at once.
        _ = PyGILState_Ensure()
        let thread = PyEval_SaveThread()
        while true {
            queue.awaitWake(parker)
            guard queue.stillWaiting(parker: parker) else { continue }
            PyEval_RestoreThread(thread)
            var woken = true
            var lastEndCPU: UInt64 = 0
            var turnStart: UInt64 = 0
            while let request = queue.takeOrIdle(woken: woken, parker: parker) {
                woken = false
                let cpuStart = lastEndCPU != 0 ? lastEndCPU : Clock.threadCPU()
                if turnStart == 0 { turnStart = cpuStart }
                let response = Response(request: request, channel: channel, queue: queue, callables: runtime.callables, cpuStart: cpuStart)
                Invocation(runtime: runtime, environ: environ, response: response).run()
                lastEndCPU = response.endCPU
                if queue.finished(request.id) { exitAfterDrain() }
                if lastEndCPU &- turnStart >= InstanceServer.turnNanos {
                    queue.yieldTurn(parker)
                    break
                }
            }
            _ = PyEval_SaveThread()
        }
    }

    /// The last held request of a draining instance has ended: exit without
    /// Python finalisation (no thread may be mid-write: the write lock is taken).
    func exitAfterDrain() -> Never {
        channel.lockForExit()
        _exit(0)
    }
}

/// What a new handler thread needs (passed through pthread_create's pointer).
private final class HandlerContext: Sendable {
    let server: InstanceServer
    let parker: Parker

    init(server: InstanceServer, parker: Parker) {
        self.server = server
        self.parker = parker
    }
}

private func handlerThreadMain(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    let context = Unmanaged<HandlerContext>.fromOpaque(context!).takeRetainedValue()
    context.server.handlerLoop(context.parker)
}
