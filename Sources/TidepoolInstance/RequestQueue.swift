/// The hand-over between the reader and the handler threads, and the count of
/// requests the instance holds (what `stats.inFlight` reports and `drain` waits for).
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
            lock.signal()
        }
    }

    /// Blocks until a request is waiting, then hands it to the caller.
    func next() -> PendingRequest {
        lock.lock()
        defer { lock.unlock() }
        while waitingStart == waiting.count { lock.wait() }
        let request = waiting[waitingStart]
        waitingStart += 1
        if waitingStart == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            waitingStart = 0
        }
        running.insert(request.id)
        return request
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
