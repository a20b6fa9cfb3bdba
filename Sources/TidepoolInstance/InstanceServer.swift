import CPython
import Glibc
import TidepoolCore

/// A serving instance: N handler threads that run the app and, between
/// requests, read the channel themselves; the process's main thread sends
/// stats and reads the channel when no handler will (`RequestQueue.ReadDuty`).
final class InstanceServer: @unchecked Sendable {
    // Invariant: every stored property is immutable after init (`reader` is
    // set once in `serve`, before any other thread exists). `channel` and
    // `queue` are thread-safe themselves; `runtime` and `environ` are only
    // used with the GIL held.
    let runtime: PythonRuntime
    let channel: Channel
    let queue = RequestQueue()
    let threads: Int
    let environ: Environ
    /// Set once in `serve`, before any handler thread starts.
    private(set) var reader: Reader!

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
        reader = Reader(server: self)
        // A couple of handlers now; the queue starts the others (up to
        // `threads`) when requests wait and none is idle.
        for index in 0..<min(threads, Self.initialHandlers) {
            // Counted idle before it exists, so a request that arrives before
            // the new thread reaches `awaitWake` still gets a wake-up it will find.
            let parker = Parker()
            queue.addIdleHandler(parker)
            let result = startThread(parker)
            guard result == 0 else {
                channel.send(.failed(StartFailure(
                    phase: "threads",
                    message: "could not start handler thread \(index + 1) of \(threads): \(String(cString: strerror(result))); lower `threads`"
                )))
                _exit(1)
            }
        }
        queue.allowHandlers(upTo: threads) { [unowned self] parker in
            let result = self.startThread(parker)
            if result != 0 {
                Diagnostics.write("could not start another handler thread: \(String(cString: strerror(result))); requests wait for the running ones")
            }
            return result == 0
        }
        channel.send(.ready(Ready(pid: getpid(), kind: kind, threads: UInt32(threads), phases: phases)))
        watchAndRead()
    }

    /// Handler threads started with the instance (see `RequestQueue.allowHandlers`).
    static let initialHandlers = 2

    /// Starts a detached handler thread that parks on `parker`; returns pthread_create's result.
    private func startThread(_ parker: Parker) -> Int32 {
        let context = Unmanaged.passRetained(HandlerContext(server: self, parker: parker)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, handlerThreadMain, context)
        if result == 0 {
            pthread_detach(thread)
        } else {
            Unmanaged<HandlerContext>.fromOpaque(context).release()
        }
        return result
    }

    /// 400 ms: the scheduler wants stats every 250–500 ms to see CPU saturation promptly.
    static let statsInterval: UInt64 = 400_000_000

    /// The main thread: sends `stats` on time and reads the channel whenever
    /// no handler will (see `RequestQueue.ReadDuty`).
    private func watchAndRead() -> Never {
        var lastStats = Clock.now()
        while true {
            let deadline = lastStats &+ InstanceServer.statsInterval
            if queue.mainMustRead(deadline: deadline) {
                let now = Clock.now()
                let timeout = now >= deadline ? 0 : Int32((deadline - now) / 1_000_000) + 1
                if reader.waitReadable(timeoutMillis: timeout) {
                    reader.readAvailable(wake: true)
                    queue.mainDidRead()
                }
            }
            if Clock.now() &- lastStats >= InstanceServer.statsInterval {
                lastStats = Clock.now()
                channel.send(.stats(InstanceStats(
                    rssBytes: Clock.residentBytes(), cpuNanos: Clock.processCPU(), inFlight: queue.inFlight
                )))
            }
        }
    }

    /// How much CPU time a handler spends running queued requests back to
    /// back before it lets the standby (and any thread back from I/O) have
    /// the GIL: Python's own forced switch only comes after 5 ms, which would
    /// delay requests finishing their I/O behind a stream of CPU-bound ones.
    /// CPU time, not wall time, so I/O-bound requests never end a turn.
    static let turnNanos: UInt64 = 1_000_000

    /// One handler thread: runs requests one at a time. It keeps the GIL
    /// from one request to the next while requests are waiting or the
    /// channel holds more, and only releases it (to lead or park) when both
    /// are empty, so back-to-back requests cost no thread switch, no GIL
    /// hand-off and no wake-up of another reader thread.
    fileprivate func handlerLoop(_ parker: Parker) -> Never {
        // A thread state of our own for the life of the thread (so Python
        // thread-locals survive between requests), GIL released at once.
        _ = PyGILState_Ensure()
        let bound = ThreadCallables(callables: runtime.callables)
        let thread = PyEval_SaveThread()
        queue.register(parker)
        while true {
            queue.awaitWake(parker)
            guard queue.stillWaiting(parker: parker) else { continue }
            PyEval_RestoreThread(thread)
            let fresh = queue.startTurn(parker)
            if runTurn(parker, bound, fresh: fresh) { _ = PyEval_SaveThread() }
        }
    }

    /// Runs requests while there are any (reading the channel itself when
    /// the queue runs dry, and leading when the channel is empty too).
    /// Returns true holding the GIL, to park.
    /// `fresh`: the handler was woken for waiting requests (not resuming its
    /// own yielded turn), so its first `take` fans out to the next standby.
    private func runTurn(_ parker: Parker, _ bound: ThreadCallables, fresh: Bool) -> Bool {
        var fresh = fresh
        var lastEndCPU: UInt64 = 0
        var turnStart: UInt64 = 0
        while true {
            // (Read before `take`, which records it as the request's start for the watch.)
            let cpuStart = lastEndCPU != 0 ? lastEndCPU : Clock.threadCPU()
            guard let request = queue.take(fresh: fresh, parker: parker, cpu: cpuStart) else {
                if queue.handlerShouldTryRead, reader.tryReadAvailable() { continue }
                switch queue.endTurn(parker: parker) {
                case .retry: continue
                case .park: return true
                case .lead:
                    let thread = PyEval_SaveThread()
                    repeat {
                        if reader.waitReadable(timeoutMillis: -1) { reader.readAvailable(wake: false) }
                    } while !queue.hasWaiting
                    queue.leaderStartsTurn(parker)
                    PyEval_RestoreThread(thread)
                    // (Not fresh: the requests it read wait for it, not for
                    // a standby; the main thread's watch wakes one if it stalls.)
                    fresh = false
                    // `lastEndCPU` stays: waiting costs no CPU, so the next
                    // request's start is read from it, the read and decode
                    // counted as its own (as between back-to-back requests),
                    // sparing a thread-CPU clock syscall per request.
                    turnStart = 0
                    continue
                }
            }
            fresh = false
            if turnStart == 0 { turnStart = cpuStart }
            let response = Response(request: request, channel: channel, queue: queue, callables: runtime.callables, cpuStart: cpuStart)
            Invocation(runtime: runtime, environ: environ, response: response, bound: bound).run()
            lastEndCPU = response.endCPU
            if queue.finished(request.id) { exitAfterDrain() }
            if lastEndCPU &- turnStart >= InstanceServer.turnNanos && queue.yieldTurn(parker) {
                return true
            }
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
