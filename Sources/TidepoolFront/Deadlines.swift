import CTidepoolLinux
import Logging
import TidepoolCore

/// maxDuration: a request still unanswered that long after it was dispatched
/// gets 504 `FUNCTION_INVOCATION_TIMEOUT` (or, if its body was already
/// streaming, a reset connection), and the instance is asked to cancel it.
/// Its slot stays taken until the instance ends it: the handler thread is
/// still busy. One sweep a second is precise enough for a limit in seconds
/// and costs nothing per request.
extension HostRuntime {
    func startDeadlineSweeps() {
        loop.after(1) { [unowned self] in
            guard phase == .serving || phase == .draining else { return }
            sweepDeadlines()
            startDeadlineSweeps()
        }
    }

    private func sweepDeadlines() {
        let limit = UInt64(configuration.maxDurationSeconds * 1_000_000_000)
        let now = tp_monotonic_nanos()
        for pending in requests.values where !pending.replied && pending.phase != .queued {
            guard now &- pending.dispatchedAt > limit, let instanceID = pending.instance else { continue }
            logger.warning("request \(pending.id) on instance \(instanceID) ran past maxDuration (\(configuration.maxDurationSeconds) s)")
            failTimedOut(pending)
            instances[instanceID]?.channel.send(.cancel(id: pending.id))
        }
    }
}
