import CTidepoolLinux
import Glibc

/// The main thread's watch over who reads the channel: it reads only when
/// no handler will, and takes the duty back from handlers that stall.
extension RequestQueue {
    /// Who reads the channel. The main thread only polls it when no handler
    /// will: a handler finishing a request reads what arrived meanwhile
    /// itself, and when it finds nothing it becomes the leader and blocks in
    /// `poll` (one at a time), then runs the request it decoded without
    /// waking anyone. The main thread watches: if no active handler has
    /// started a request for `watchNanos` (long or I/O-bound requests), it
    /// takes the duty back and wakes a standby for waiting requests.
    enum ReadDuty {
        case main
        case handlers
        case leader
    }

    /// How long active handlers may go without starting a request before the
    /// main thread reads the channel in their place (unless one of them is
    /// still running a short request: see `someHandlerRuns`).
    static let watchNanos: UInt64 = 2_000_000
    /// How soon the watch looks again after finding a handler running.
    static let recheckNanos: UInt64 = 1_000_000

    /// The main thread's watch: returns true when the main thread must read
    /// the channel (nobody else will), after waiting at most until
    /// `deadline` (the next stats) while handlers have the duty.
    func mainMustRead(deadline: UInt64) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        let now = Clock.now()
        switch duty {
        case .main:
            return true
        case .leader:
            // A handler leads (blocked in `poll`) and none runs a request:
            // nothing can stall. Sleep until the stats. The next leader turn
            // arms `watchTimer` to wake this thread `watchNanos` after it
            // starts, in case it lasts; a signal at the turn's start instead
            // cost a wake-up on every request's way in at low load (a futex
            // wake and the lock passed back and forth: 70 µs before the app
            // ran, in a syscall trace with 4 ms between requests).
            mainWaitsForLeader = true
            if watchTimer < 0 {
                waitMain(until: deadline)
            } else {
                lock.unlock()
                waitForWatchTimer(until: deadline)
                lock.lock()
            }
            mainWaitsForLeader = false
            return false
        case .handlers:
            let stall = lastProgress &+ RequestQueue.watchNanos
            if active + looking > 0 && now < stall {
                waitMain(until: min(stall, deadline))
                return false
            }
            if active > 0 {
                let progress = lastProgress
                let handlers = inTurn.map { ($0.threadId, $0.cpuClock, $0.requestCPU) }
                lock.unlock()
                let runs = RequestQueue.someHandlerRuns(handlers)
                lock.lock()
                // Something moved meanwhile: look again from the top.
                guard duty == .handlers, lastProgress == progress else { return false }
                if runs {
                    waitMain(until: min(now &+ RequestQueue.recheckNanos, deadline))
                    return false
                }
            }
            duty = .main
            wakeStandbyIfNeeded()
            return true
        }
    }

    /// After the main thread read the channel: if a handler is active, or
    /// on its way to the requests just read (looking), it reads from now on.
    /// Counting the looking one matters at low load: the handler the main
    /// thread just woke then leads when it is done (one wake-up per request,
    /// the leader's), instead of parking while the main thread reads the
    /// next request and wakes it again (two wake-ups and a hand-off).
    func mainDidRead() {
        lock.withLock {
            if duty == .main && active + looking > 0 {
                duty = .handlers
                lastProgress = Clock.now()
            }
        }
    }

    /// Polls `watchTimer` until it fires or `deadline` passes. Call without `lock`.
    private func waitForWatchTimer(until deadline: UInt64) {
        let now = Clock.now()
        guard deadline > now else { return }
        var poller = pollfd(fd: watchTimer, events: Int16(POLLIN), revents: 0)
        if poll(&poller, 1, Int32(clamping: (deadline - now) / 1_000_000 + 1)) > 0 {
            var expirations: UInt64 = 0
            _ = read(watchTimer, &expirations, MemoryLayout<UInt64>.size)
        }
    }

    func waitMain(until deadline: UInt64) {
        var time = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        lock.wait(on: mainCondition, until: &time)
    }


    /// True if one of the handlers in a turn is running (or runnable: the
    /// kernel preempted it on a busy machine) and has spent less than
    /// `watchNanos` of CPU on its current request: it will take the next
    /// request itself soon, so waking a standby would only force a GIL
    /// hand-off (after Python's 5 ms switch interval) and leave two threads
    /// alternating. A blocked handler (sleeping in I/O, on a lock, in a C
    /// call) or one deep in a long CPU-bound request is not counted: the
    /// watch then wakes a standby as before. Reads /proc and the handlers' CPU
    /// clocks; call without `lock`.
    static func someHandlerRuns(_ handlers: [(pid_t, clockid_t, UInt64)]) -> Bool {
        for (threadId, cpuClock, requestCPU) in handlers where threadId != 0 {
            guard tp_thread_runnable(threadId) == 1 else { continue }
            if requestCPU == Parker.noRequest { return true }
            let cpu = tp_clock_nanos(cpuClock)
            if cpu != 0 && cpu &- requestCPU < RequestQueue.watchNanos { return true }
        }
        return false
    }
}
