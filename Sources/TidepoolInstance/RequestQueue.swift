import Glibc

/// The hand-over between the reader and the handler threads, and the count of
/// requests the instance holds (what `stats.inFlight` reports and `drain` waits for).
///
/// Wake-ups are rationed, because every one costs context switches and a GIL
/// hand-off: a handler that finishes a request takes the next waiting one
/// itself (still holding the GIL), and while requests wait exactly one woken
/// handler ("looking") is on its way to the queue. A handler that is running
/// a request never counts as looking (it may be blocked in I/O for a long
/// time), so I/O-bound requests still each get a thread of their own.
final class RequestQueue: @unchecked Sendable {
    // Invariant: every property below is read and written with `lock` held.
    private let lock = Lock()
    /// Complete requests waiting for a handler, oldest first.
    private var waiting: [PendingRequest] = []
    private var waitingStart = 0
    /// Ids a handler is running now.
    private var running: Set<UInt32> = []
    /// Running ids the host cancelled: their handlers stop sending.
    private var cancelled: Set<UInt32> = []
    /// Requests from head received to `responseEnd` sent.
    private var held = 0
    private var draining = false
    /// Handlers parked (or about to park) in `awaitWake` that no wake-up has
    /// been promised to, most recently parked last.
    private var idle: [Parker] = []
    /// Handlers woken for work that have not yet looked at the queue (0 or 1).
    private var looking = 0

    /// What `cancel(id)` found.
    enum CancelOutcome {
        /// It was still waiting: it is gone; the caller answers for it.
        case removed
        /// A handler is running it and will stop sending and end it as cancelled.
        case marked
        /// Not here (already answered, or never sent).
        case unknown
    }

    var inFlight: UInt32 { lock.withLock { UInt32(held) } }

    /// A request head arrived: the instance holds one more request.
    func accepted() {
        lock.withLock { held += 1 }
    }

    /// A request is complete and may run.
    func enqueue(_ request: PendingRequest) {
        lock.withLock {
            waiting.append(request)
            wakeStandbyIfNeeded()
        }
    }

    /// Hands the oldest waiting request to the caller, or, when none waits,
    /// registers the caller as idle (it must then call `awaitWake`). Doing
    /// both under one lock means no request can slip in unnoticed between.
    /// `woken` says the caller comes from `awaitWake` (it stops looking).
    func takeOrIdle(woken: Bool, parker: Parker) -> PendingRequest? {
        lock.lock()
        defer { lock.unlock() }
        if woken { looking -= 1 }
        guard waitingStart < waiting.count else {
            idle.append(parker)
            return nil
        }
        let request = waiting[waitingStart]
        waitingStart += 1
        if waitingStart == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            waitingStart = 0
        }
        running.insert(request.id)
        wakeStandbyIfNeeded()
        return request
    }

    /// Keeps one standby on its way while requests wait (call with `lock`
    /// held): if none is looking, wakes the most recently parked handler. One
    /// is enough, since it needs the GIL before it can do anything; it
    /// wakes the next in turn once it has taken a request, so a burst of
    /// I/O-bound requests still fans out over as many threads as it needs.
    private func wakeStandbyIfNeeded() {
        guard waitingStart < waiting.count, looking == 0, let parker = idle.popLast() else { return }
        looking += 1
        parker.woken = true
        pthread_cond_signal(parker.condition)
    }

    /// For a handler just woken: true if requests still wait (it goes on to
    /// take the GIL and look); false if a running handler took them all, in
    /// which case it is idle again and must call `awaitWake`, sparing a GIL
    /// round trip that would find nothing.
    func stillWaiting(parker: Parker) -> Bool {
        lock.withLock {
            guard waitingStart == waiting.count else { return true }
            looking -= 1
            idle.append(parker)
            return false
        }
    }

    /// A handler ends its turn with requests still waiting: it becomes idle
    /// (and must release the GIL and call `awaitWake`), and a standby is woken
    /// if none is on its way (possibly the caller itself, after the others
    /// waiting for the GIL have had their chance).
    func yieldTurn(_ parker: Parker) {
        lock.withLock {
            idle.append(parker)
            wakeStandbyIfNeeded()
        }
    }

    /// New handler threads start out idle (registered before they run, so
    /// a request that arrives first still finds someone to wake).
    func addIdleHandler(_ parker: Parker) {
        lock.withLock { idle.append(parker) }
    }

    /// Parks an idle handler until `enqueue` wakes it. Call without the GIL.
    func awaitWake(_ parker: Parker) {
        lock.lock()
        defer { lock.unlock() }
        while !parker.woken { lock.wait(on: parker.condition) }
        parker.woken = false
    }

    func cancel(_ id: UInt32) -> CancelOutcome {
        lock.withLock {
            if running.contains(id) {
                cancelled.insert(id)
                return .marked
            }
            if let index = waiting[waitingStart...].firstIndex(where: { $0.id == id }) {
                waiting.remove(at: index)
                return .removed
            }
            return .unknown
        }
    }

    func isCancelled(_ id: UInt32) -> Bool {
        lock.withLock { cancelled.contains(id) }
    }

    /// The request's `responseEnd` was sent (or it was dropped). Returns true
    /// when the instance is draining and now holds nothing: time to exit.
    func finished(_ id: UInt32) -> Bool {
        lock.withLock {
            running.remove(id)
            cancelled.remove(id)
            held -= 1
            return draining && held == 0
        }
    }

    /// `drain` arrived. Returns true if nothing is held, so the instance can exit now.
    func startDraining() -> Bool {
        lock.withLock {
            draining = true
            return held == 0
        }
    }
}
