import CEvent
import CTidepoolLinux
import Logging
import TidepoolCore

/// Hooks the host calls where facts happen: they feed `HostMetrics`, the access
/// log and the scale-decision log. Each call site is one line.
extension HostRuntime {
    static let accessLogger = Logger(label: "tidepool.access")

    private static func key(_ request: UnsafeMutablePointer<evhttp_request>) -> UInt {
        UInt(bitPattern: request)
    }

    /// A request for the app or a static file arrived (not `/_tidepool/`).
    func traceArrived(_ request: UnsafeMutablePointer<evhttp_request>, path: [UInt8]) {
        observed.traces[Self.key(request)] = RequestTrace(
            arrivedAt: tp_monotonic_nanos(), method: Self.methodName(evhttp_request_get_command(request)),
            path: ObservedRequests.loggable(path: path))
    }

    /// The request was sent to `instance`.
    func traceDispatched(_ request: UnsafeMutablePointer<evhttp_request>, instance: UInt32, at now: UInt64) {
        guard let trace = observed.traces[Self.key(request)] else { return }
        trace.dispatchedAt = now
        trace.instance = instance
        trace.cold = observed.warmInstances.insert(instance).inserted
    }

    /// evhttp finished writing the reply (its status and error header are final).
    func traceCompleted(_ request: UnsafeMutablePointer<evhttp_request>) {
        let status = Int(evhttp_request_get_response_code(request))
        let error = evhttp_find_header(evhttp_request_get_output_headers(request), ErrorCode.headerName)
            .flatMap { ErrorCode(rawValue: String(cString: $0)) }
        traceEnded(request, status: status, error: error)
    }

    /// The request ends without a completed reply (`status` 0: connection reset;
    /// 499: the client left), or with `error` answered to a client already gone.
    func traceEnded(_ request: UnsafeMutablePointer<evhttp_request>, status: Int, error: ErrorCode? = nil) {
        guard let trace = observed.traces.removeValue(forKey: Self.key(request)) else { return }
        let now = tp_monotonic_nanos()
        let duration = Duration.nanoseconds(Int64(now &- trace.arrivedAt))
        let wait = trace.dispatchedAt.map { Duration.nanoseconds(Int64($0 &- trace.arrivedAt)) }
        metrics.requestCompleted(status: status, error: error, duration: duration, queueWait: wait)
        guard Self.accessLogger.logLevel <= .info else { return }  // TIDEPOOL_LOG_LEVEL=warning: no access log
        var metadata: Logger.Metadata = [
            "method": .string(trace.method), "path": .string(trace.path), "status": .stringConvertible(status),
            "duration_ms": .string(Self.format(duration.seconds * 1000)),
        ]
        if let wait { metadata["queue_ms"] = .string(Self.format(wait.seconds * 1000)) }
        if let instance = trace.instance {
            metadata["instance"] = .stringConvertible(instance)
            metadata["start"] = .string(trace.cold ? "cold" : "warm")
        } else {
            metadata["start"] = .string("none")
        }
        if let error { metadata["error"] = .string(error.rawValue) }
        Self.accessLogger.info("\(trace.method) \(trace.path) \(status)", metadata: metadata)
    }

    /// The pool decided to start (`up`) or drain (`down`) an instance.
    func noteScale(_ direction: HostMetrics.ScaleDirection, reason: ScaleReason, instance: UInt32) {
        metrics.scaleEvent(direction: direction, reason: reason)
        logger.info("scale \(direction.rawValue): instance \(instance) (reason: \(reason.rawValue))",
                    metadata: ["scale": .string(direction.rawValue), "reason": .string(reason.rawValue)])
    }

    /// The instance answered `ready`.
    func noteInstanceReady(_ record: InstanceRecord) {
        let now = tp_monotonic_nanos()
        metrics.instanceStarted(kind: record.kind, coldStart: .nanoseconds(Int64(now &- record.decidedAt)))
        observed.memoryAccountedAt[record.id] = (now, 0)
    }

    /// A stats frame arrived: memory held since the last one counts toward GB-seconds.
    func noteInstanceStats(_ record: InstanceRecord, _ stats: InstanceStats) {
        accountMemory(record.id, rssBytes: stats.rssBytes)
    }

    /// The instance is gone: its last memory interval is accounted, its series go.
    func noteInstanceGone(_ id: UInt32) {
        accountMemory(id, rssBytes: nil)
        observed.memoryAccountedAt[id] = nil
        observed.warmInstances.remove(id)
    }

    private func accountMemory(_ id: UInt32, rssBytes: UInt64?) {
        let now = tp_monotonic_nanos()
        guard let last = observed.memoryAccountedAt[id] else { return }
        // The interval is charged at the newest RSS known (the first report covers the time since ready).
        let held = rssBytes ?? last.rssBytes
        metrics.instanceLifetime(memoryBytes: held, duration: .nanoseconds(Int64(now &- last.at)))
        observed.memoryAccountedAt[id] = (now, held)
    }

    /// The exposition text for `/_tidepool/metrics`, with scrape-time gauges refreshed.
    func metricsText() -> [UInt8] {
        for id in observed.memoryAccountedAt.keys { accountMemory(id, rssBytes: nil) }
        var states = HostMetrics.InstanceStates()
        var samples: [HostMetrics.InstanceSample] = []
        for slot in pool.instances {
            switch slot.state {
            case .starting: states.starting += 1
            case .ready: if slot.inFlight == 0 { states.idle += 1 } else { states.busy += 1 }
            case .draining: states.draining += 1
            }
            samples.append(.init(id: slot.id, slotLimit: slot.slots, rssBytes: instances[slot.id]?.stats?.rssBytes))
        }
        metrics.update(
            states: states, inFlight: pool.inFlightCount, queued: pool.queuedCount, instances: samples,
            hostRSSBytes: ProcSelf.residentBytes(), hostOpenFDs: ProcSelf.openFileDescriptors())
        return metrics.render()
    }
}
