import CEvent
import CTidepoolLinux
import Glibc
import Logging
import TidepoolCore

/// Hooks the host calls where facts happen: they feed `HostMetrics`, the access
/// log and the scale-decision log. Each call site is one line.
extension HostRuntime {
    /// A request arrived on the main port. Traced before any check, so the
    /// front's refusals (400, 408, 413, 414, 431, 501) are counted and
    /// logged; until routed, its path is the raw target without the query.
    func traceArrived(_ request: HTTPRequest) {
        request.trace = RequestTrace(
            arrivedAt: tp_monotonic_nanos(), method: request.methodText,
            rawPath: request.target.prefix { $0 != UInt8(ascii: "?") })
    }

    /// The request is for the app or a static file: log its decoded path.
    func traceRouted(_ request: HTTPRequest, path: [UInt8]) {
        request.trace?.routedPath = path
    }

    /// The request is for `/_tidepool/`: not traffic, neither counted nor logged.
    func untrace(_ request: HTTPRequest) {
        request.trace = nil
    }

    /// The request was sent to `instance`.
    func traceDispatched(_ request: HTTPRequest, instance: UInt32, at now: UInt64) {
        guard request.trace != nil else { return }
        request.trace?.dispatchedAt = now
        request.trace?.instance = instance
        request.trace?.cold = observed.warmInstances.insert(instance)
    }

    /// A request's reply ended: written (its status and error code final), or
    /// never to be (the client left: 499; cut by us: 0). It no longer holds
    /// up a graceful stop (`repliesWriting`), and it is counted and logged.
    func replyEnded(_ request: HTTPRequest, status: Int, error: ErrorCode? = nil) {
        repliesWriting -= 1
        guard let trace = request.trace else { return }
        request.trace = nil
        traceEnded(trace, status: status, error: error)
    }

    /// A request's end, counted in the metrics and written as its access log
    /// line. One clock read serves both.
    func traceEnded(_ trace: RequestTrace, status: Int, error: ErrorCode?) {
        let now = tp_monotonic_nanos()
        let durationNanos = now &- trace.arrivedAt
        let queueNanos = trace.dispatchedAt.map { $0 &- trace.arrivedAt }
        metrics.requestCompleted(
            status: status, error: error, durationNanos: Int64(clamping: durationNanos),
            queueWaitNanos: queueNanos.map { Int64(clamping: $0) })
        guard accessLog != nil else { return }  // TIDEPOOL_LOG_LEVEL=warning: no access log
        let entry = AccessLog.Entry(
            method: trace.method, path: trace.loggedPath, status: status, durationNanos: durationNanos,
            queueNanos: queueNanos, instance: trace.instance, cold: trace.cold, error: error)
        if accessLog?.withLine(entry, LogOutput.append) == true { logFlush.schedule() }
    }

    /// The scheduler started (`up`) or drained (`down`) an instance, or one
    /// died (`down`, `died`). Called exactly once per event: from the
    /// executor's `start` and `drain` actions and from an unexpected death
    /// of an instance not already draining, so `up − down` is the live count.
    func noteScale(
        _ direction: HostMetrics.ScaleDirection, reason: ScaleReason, instance: UInt32, detail: @autoclosure () -> String
    ) {
        metrics.scaleEvent(direction: direction, reason: reason)
        let verb = switch direction {
        case .up: "starting"
        case .down: reason == .died ? "lost" : "draining"
        }
        logger.info("scale \(direction.rawValue): \(verb) instance \(instance) (\(reason.rawValue)); \(detail())",
                    metadata: ["scale": .string(direction.rawValue), "reason": .string(reason.rawValue)])
    }

    /// The scheduler asked for a new instance: its provisioned memory counts from now.
    func noteInstanceStarting(_ id: UInt32) {
        observed.memoryAccountedAt[id] = tp_monotonic_nanos()
    }

    /// The instance answered `ready`: one cold start, timed from the start decision.
    func noteInstanceReady(_ record: InstanceRecord) {
        metrics.instanceStarted(
            kind: record.kind, coldStart: .nanoseconds(Int64(tp_monotonic_nanos() &- record.decidedAt)))
    }

    /// The instance is gone (stopped, killed or `died`): its last memory
    /// interval is accounted and its series go. An unexpected death of an
    /// instance that was not draining is a scale-down event (`died`); a
    /// draining one was already counted at its drain.
    func noteInstanceGone(_ record: InstanceRecord, died: Bool = false) {
        if died && !record.draining { noteScale(.down, reason: .died, instance: record.id, detail: scaleSummary) }
        accountMemory(record.id)
        observed.memoryAccountedAt[record.id] = nil
        observed.warmInstances.remove(record.id)
    }

    /// The start failed before any process existed: a scale-down (`died`),
    /// like a death, and nothing more to account.
    func noteStartFailed(_ id: UInt32) {
        noteScale(.down, reason: .died, instance: id, detail: scaleSummary)
        observed.memoryAccountedAt[id] = nil
    }

    /// Provisioned memory as Vercel bills it: the configured memory size
    /// (`instanceMemoryMB`) × the instance's lifetime, not its RSS.
    private func accountMemory(_ id: UInt32) {
        let now = tp_monotonic_nanos()
        guard let last = observed.memoryAccountedAt[id] else { return }
        metrics.instanceLifetime(
            memoryMB: scheduler.config.instanceMemoryMB, duration: .nanoseconds(Int64(now &- last)))
        observed.memoryAccountedAt[id] = now
    }

    /// The exposition text for `/_tidepool/metrics`, with scrape-time gauges
    /// refreshed from the scheduler's snapshot (its states, limits and queue).
    func metricsText() -> [UInt8] {
        for id in observed.memoryAccountedAt.keys { accountMemory(id) }
        let snapshot = scheduler.snapshot(at: now)
        var states = HostMetrics.InstanceStates()
        var samples: [HostMetrics.InstanceSample] = []
        for instance in snapshot.instances {
            switch instance.state {
            case "starting": states.starting += 1
            case "idle": states.idle += 1
            case "busy": states.busy += 1
            default: states.draining += 1
            }
            let id = Self.wire(instance.id)
            samples.append(.init(
                id: id, slotLimit: min(instance.concurrencyLimit, snapshot.config.slotsPerInstance),
                rssBytes: instance.rssBytes ?? instances[id]?.stats?.rssBytes))
        }
        metrics.update(
            states: states, inFlight: snapshot.inFlight, queued: snapshot.queued, instances: samples,
            hostRSSBytes: ProcSelf.residentBytes(), hostOpenFDs: ProcSelf.openFileDescriptors())
        return metrics.render()
    }
}
