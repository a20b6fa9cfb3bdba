import CTidepoolLinux
import Glibc

/// The hand-over between the reader and the handler threads, and the count of
/// requests the instance holds (what `stats.inFlight` reports and `drain` waits for).
///
/// Wake-ups are rationed, because every one costs context switches and a GIL
/// hand-off: a handler that finishes a request takes the next waiting one
/// itself (still holding the GIL), and while requests wait exactly one woken
/// handler ("looking") is on its way to the queue. A handler that is running
/// a request never counts as looking (it may be blocked in I/O for a long
/// time), so I/O-bound requests still each get a thread of their own. It
/// also holds who reads the channel (`ReadDuty`).
final class RequestQueue: @unchecked Sendable {
    // Invariant: every property below is read and written with `lock` held
    // (also by the main thread's watch, MainThreadWatch.swift).
    let lock = Lock()
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
    var looking = 0
    /// Handler threads started so far, and the most there may be.
    private var handlers = 0
    private var maxHandlers = 1
    /// Starts one more handler thread parked on the given parker (set once in
    /// `InstanceServer.serve`, before any handler exists); false if the
    /// thread could not be created.
    private var startHandler: ((Parker) -> Bool)?
    /// Who watches the channel (see `ReadDuty`).
    var duty = ReadDuty.main
    /// Handlers in a turn (holding or about to take the GIL for requests):
    /// each reads the channel itself before it parks.
    var active = 0
    /// Those handlers (`active` of them), for the watch's CPU-aware stall check.
    var inTurn: [Parker] = []
    /// When an active handler last started a request (monotonic ns).
    var lastProgress: UInt64 = 0
    /// The main thread waits here (monotonic clock) while handlers read.
    let mainCondition: UnsafeMutablePointer<pthread_cond_t>
    /// The main thread sleeps on `watchTimer` until the next stats: a leader
    /// starting a turn arms the timer (see `mainMustRead`'s `.leader` case).
    var mainWaitsForLeader = false
    /// A timerfd the main thread polls while it waits for a leader: armed
    /// `watchNanos` ahead by a turn that starts meanwhile, it wakes the
    /// watch once that long after (off the request's path; the watch then
    /// finds a stall, or nothing to do), never on the request's way in.
    /// (Created after the fork: each instance has its own.) -1 if none could
    /// be made: leaders then signal `mainCondition` at once.
    let watchTimer = tp_timer_create()

    init() {
        mainCondition = .allocate(capacity: 1)
        mainCondition.initialize(to: pthread_cond_t())
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(mainCondition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

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

    /// A request is complete and may run. `wake`: wake a standby for it
    /// (false when the caller is a handler that will take it itself).
    func enqueue(_ request: PendingRequest, wake: Bool) {
        lock.withLock {
            waiting.append(request)
            if wake { wakeStandbyIfNeeded() }
        }
    }

    /// Hands the oldest waiting request to an active handler, or nil. A
    /// handler that just came from `awaitWake` or `poll` (`fresh`) wakes the
    /// next standby if more wait, so I/O-bound bursts fan out; one running
    /// requests back to back does not (the main thread's watch wakes one if
    /// it stalls).
    /// `cpu`: the handler's thread CPU time now (the request's start, for the watch).
    func take(fresh: Bool, parker: Parker, cpu: UInt64) -> PendingRequest? {
        lock.lock()
        defer { lock.unlock() }
        guard waitingStart < waiting.count else { return nil }
        let request = waiting[waitingStart]
        waitingStart += 1
        if waitingStart == waiting.count {
            waiting.removeAll(keepingCapacity: true)
            waitingStart = 0
        }
        running.insert(request.id)
        lastProgress = Clock.now()
        parker.requestCPU = cpu
        if fresh { wakeStandbyIfNeeded() }
        return request
    }

    /// What an active handler does when `take` found nothing and the
    /// channel had nothing either.
    enum Idle {
        /// A request arrived meanwhile: take it.
        case retry
        /// Park in `awaitWake` (already registered idle).
        case park
        /// Be the leader: release the GIL and call `lead`.
        case lead
    }

    /// Ends the caller's turn: it becomes the leader if the handlers have the
    /// read duty and nobody leads, else it parks.
    func endTurn(parker: Parker) -> Idle {
        lock.lock()
        defer { lock.unlock() }
        guard waitingStart == waiting.count else { return .retry }
        leaveTurn(parker)
        if duty == .handlers {
            duty = .leader
            return .lead
        }
        idle.append(parker)
        return .park
    }

    /// Whether a handler out of requests should read the channel itself
    /// (holding the GIL) before `endTurn`. Not when it is the only handler in
    /// a turn and the handlers have the read duty: it then leads, and its
    /// `poll` and read find the same bytes, so the try would only add a
    /// failed `recv` per request at low load. With other handlers in a turn it
    /// does: they want the GIL, and a read made holding it keeps this turn
    /// going without a hand-off. (A lone handler whose next request is
    /// already waiting in the socket pays a `poll` and a GIL release for it
    /// instead; `bench-goals --only cpu,throughput` did not move.)
    var handlerShouldTryRead: Bool { lock.withLock { !(duty == .handlers && active == 1) } }

    /// True if a request waits (the leader stops reading).
    var hasWaiting: Bool { lock.withLock { waitingStart < waiting.count } }

    /// The leader decoded a request and is about to take the GIL and run
    /// it: the handlers read again, and the main thread (waiting for the
    /// next stats) starts watching this turn.
    func leaderStartsTurn(_ parker: Parker) {
        let wakeWatch = lock.withLock {
            enterTurn(parker)
            lastProgress = Clock.now()
            if duty == .leader { duty = .handlers }
            let waiting = mainWaitsForLeader
            mainWaitsForLeader = false
            return waiting
        }
        guard wakeWatch else { return }
        // Outside the lock: the timer keeps its expiry until the watch polls
        // it, and a watch on the condition is already waiting (it set the
        // flag and released the lock in one `wait`), so neither is lost.
        if watchTimer >= 0 {
            _ = tp_timer_arm(watchTimer, RequestQueue.watchNanos)
        } else {
            pthread_cond_signal(mainCondition)
        }
    }

    /// A handler woken by `awaitWake` took the GIL for a turn (it stops
    /// looking). Returns false if it resumes the turn it yielded (`yieldTurn`
    /// woke the caller itself): it then runs requests back to back as before
    /// instead of fanning out to another standby, which would leave two
    /// CPU-bound handlers alternating on the GIL (the watch still wakes one
    /// if it blocks).
    func startTurn(_ parker: Parker) -> Bool {
        lock.withLock {
            looking -= 1
            enterTurn(parker)
            lastProgress = Clock.now()
            let fresh = !parker.resumesTurn
            parker.resumesTurn = false
            return fresh
        }
    }

    private func enterTurn(_ parker: Parker) {
        active += 1
        parker.requestCPU = Parker.noRequest
        inTurn.append(parker)
    }

    private func leaveTurn(_ parker: Parker) {
        active -= 1
        if let index = inTurn.firstIndex(where: { $0 === parker }) { inTurn.remove(at: index) }
    }

    /// Records the calling handler thread's id and CPU clock for the watch.
    func register(_ parker: Parker) {
        let threadId = tp_thread_id()
        var clock = clockid_t()
        let clockResult = pthread_getcpuclockid(pthread_self(), &clock)
        lock.withLock {
            parker.threadId = threadId
            parker.cpuClock = clockResult == 0 ? clock : 0
            if clockResult != 0 { parker.threadId = 0 }
        }
    }

    /// Keeps one standby on its way while requests wait (call with `lock`
    /// held): if none is looking, wakes the most recently parked handler. One
    /// is enough, since it needs the GIL before it can do anything; it
    /// wakes the next in turn once it has taken a request, so a burst of
    /// I/O-bound requests still fans out over as many threads as it needs.
    ///
    /// With no idle handler, a new thread is started (up to `threads`):
    /// handlers are created on demand, not all at start, because 32 threads
    /// each taking the GIL once to make their thread state competed with the
    /// first request of a freshly forked instance. The new thread starts as
    /// the woken, looking standby.
    func wakeStandbyIfNeeded() {
        guard waitingStart < waiting.count, looking == 0 else { return }
        if let parker = idle.popLast() {
            looking += 1
            parker.woken = true
            pthread_cond_signal(parker.condition)
        } else if handlers < maxHandlers, let startHandler {
            let parker = Parker()
            parker.woken = true
            if startHandler(parker) {
                handlers += 1
                looking += 1
            }
        }
    }

    /// For a handler just woken: true if requests still wait (it goes on to
    /// take the GIL and look); false if a running handler took them all, in
    /// which case it is idle again and must call `awaitWake`, sparing a GIL
    /// round trip that would find nothing.
    func stillWaiting(parker: Parker) -> Bool {
        lock.withLock {
            guard waitingStart == waiting.count else { return true }
            looking -= 1
            parker.resumesTurn = false
            idle.append(parker)
            return false
        }
    }

    /// A handler that has run its turn's share of CPU offers the GIL to the
    /// others: if requests still wait, it ends its turn, becomes idle (and
    /// must release the GIL and call `awaitWake`), and a standby is woken if
    /// none is on its way (possibly the caller itself, after the others
    /// waiting for the GIL have had their chance). Returns false, changing
    /// nothing, when no request waits: the handler then goes on to read the
    /// channel and lead as usual (parking instead would hand the read duty to
    /// the main thread, whose next read wakes a fresh standby that fans out
    /// to a second one, leaving two CPU-bound handlers alternating).
    func yieldTurn(_ parker: Parker) -> Bool {
        lock.withLock {
            guard waitingStart < waiting.count else { return false }
            leaveTurn(parker)
            idle.append(parker)
            wakeStandbyIfNeeded()
            if parker.woken { parker.resumesTurn = true }
            return true
        }
    }

    /// New handler threads start out idle (registered before they run, so
    /// a request that arrives first still finds someone to wake).
    func addIdleHandler(_ parker: Parker) {
        lock.withLock {
            handlers += 1
            idle.append(parker)
        }
    }

    /// Lets the queue start handlers on demand, up to `max` in all.
    func allowHandlers(upTo max: Int, start: @escaping (Parker) -> Bool) {
        lock.withLock {
            maxHandlers = max
            startHandler = start
        }
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
