import CTidepoolLinux
import Glibc

/// The stall watch's CPU-aware check (see `RequestQueue.mainMustRead`).
extension RequestQueue {
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
