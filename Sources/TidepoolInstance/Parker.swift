import Glibc

/// Where one handler thread sleeps while idle: a condition variable of its
/// own (used with the request queue's mutex), so the queue can wake a chosen
/// handler. It wakes the one that parked last: a hot thread (its stack, its
/// Python thread state and frame chunks still in cache) instead of cycling
/// through every handler round-robin.
final class Parker: @unchecked Sendable {
    // Invariant: `woken` is read and written only with the request queue's
    // lock held; `condition` is only touched through pthread calls, and the
    // pointer never changes after init.
    let condition: UnsafeMutablePointer<pthread_cond_t>
    /// A wake-up was promised and not yet consumed.
    var woken = false
    /// The handler thread's kernel id and CPU clock (set by the thread itself
    /// in `RequestQueue.register`, 0 until then), so the main thread's watch
    /// can tell a handler that runs (or waits for a CPU) from one blocked.
    var threadId: pid_t = 0
    var cpuClock: clockid_t = 0
    /// The thread's CPU time when it started its current request
    /// (`Parker.noRequest` between a turn's start and its first request).
    var requestCPU: UInt64 = Parker.noRequest
    static let noRequest = UInt64.max
    /// `RequestQueue.yieldTurn` woke this handler itself: its next turn
    /// resumes the yielded one (see `RequestQueue.startTurn`).
    var resumesTurn = false

    init() {
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        condition.deallocate()
    }
}
