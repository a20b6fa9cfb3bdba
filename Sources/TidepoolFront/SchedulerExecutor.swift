import CEvent
import CTidepoolLinux
import Glibc
import Logging
import TidepoolCore

/// The thin executor between the pure `Scheduler` and the host's IO: it
/// reports every event with the monotonic time and carries out the returned
/// actions in order. Nothing else decides where a request goes, how many
/// instances run, or when a request is past `maxDuration` (the scheduler's
/// deadline is the only one, so a client never gets two 504s).
///
/// What the scheduler does not do, done here on each tick: a start that has
/// not answered `ready` within `instanceStartTimeoutSeconds` is reported as
/// dead, and a queued request whose client closed its connection (seen by
/// its connection, or asked of the kernel when reading was paused) is
/// reported cancelled and leaves the queue.
extension HostRuntime {
    /// The scheduler's clock: the host's monotonic clock.
    var now: Instant { Instant(nanoseconds: Int64(bitPattern: tp_monotonic_nanos())) }

    var readyInstanceCount: Int { scheduler.instances.values.count(where: \.isServing) }

    static var machineMemoryBytes: UInt64 {
        let pages = sysconf(Int32(_SC_PHYS_PAGES))
        let size = sysconf(Int32(_SC_PAGESIZE))
        return pages > 0 && size > 0 ? UInt64(pages) * UInt64(size) : 1 << 30
    }

    /// Feeds one event to the scheduler and executes what it returns. The
    /// actions go into `actionBuffer`, emptied and reused (an array per event
    /// otherwise); a report made while executing (a request placed again)
    /// finds it taken and uses a fresh one.
    func report(_ event: SchedulerEvent) {
        var actions = actionBuffer
        actionBuffer = []
        actions.removeAll(keepingCapacity: true)
        scheduler.handle(event, into: &actions)
        execute(actions)
        actionBuffer = actions
    }

    /// Starts the periodic tick (the first one starts `minInstances`).
    func startTicking() {
        tick()
    }

    private func tick() {
        guard phase != .stopping else { return }
        expireStarts()
        report(.tick(now: now))
        startServingIfReady()
        let interval = scheduler.config.suggestedTickInterval.components
        let seconds = Double(interval.seconds) + Double(interval.attoseconds) / 1e18
        loop.after(seconds) { [unowned self] in tick() }
    }

    /// Carries out the scheduler's actions, in order.
    func execute(_ actions: [SchedulerAction]) {
        for action in actions {
            switch action {
            case .dispatch(let request, let instance):
                dispatch(Self.wire(request), to: Self.wire(instance))
            case .start(let instance, let reason):
                noteScale(.up, reason: reason, instance: Self.wire(instance), detail: scaleSummary)
                noteInstanceStarting(Self.wire(instance))
                startInstance(Self.wire(instance))
            case .drain(let instance, let reason):
                noteScale(.down, reason: reason, instance: Self.wire(instance), detail: scaleSummary)
                if let record = instances[Self.wire(instance)] {
                    record.draining = true
                    record.channel.send(.drain)
                }
            case .stop(let instance):
                stopInstance(Self.wire(instance))
            case .kill(let instance):
                killInstance(Self.wire(instance))
            case .reject(let request, let code):
                reject(Self.wire(request), code)
            case .failRequests(let list, let code):
                for request in list { failRequest(Self.wire(request), code) }
            }
        }
    }

    /// One line for scale logs: what the scheduler wants and why.
    var scaleSummary: String {
        let plan = scheduler.snapshot(at: now)
        return "desired \(plan.desired) (stable \(plan.stableDesired), panic \(plan.panicDesired)"
            + "\(plan.panicking ? " panicking" : ""), queued now \(plan.immediateDesired)), live \(plan.instances.count), queued \(plan.queued), in flight \(plan.inFlight)"
    }

    // MARK: - Actions

    private func reject(_ id: UInt32, _ code: ErrorCode) {
        if code == .invocationTimeout {
            // 504 now; the slot stays taken until Python returns (the late
            // response is dropped by the relay, which still reports the finish).
            guard let pending = requests[id] else { return }
            logger.warning("request \(id) on instance \(pending.instance ?? 0) ran past maxDuration (\(configuration.maxDurationSeconds) s)")
            failTimedOut(pending)
            if let instanceID = pending.instance { instances[instanceID]?.channel.send(.cancel(id: id)) }
            return
        }
        if let pending = requests.removeValue(forKey: id) { replyError(pending, code) }
    }

    /// The scheduler lost the request with its instance. One never sent
    /// (placed on an instance found dead at dispatch) is placed again instead.
    private func failRequest(_ id: UInt32, _ code: ErrorCode) {
        guard let pending = requests[id] else { return }
        if pending.phase == .queued, pending.request != nil {
            report(.requestArrived(RequestID(UInt64(id)), now: now))
            return
        }
        requests[id] = nil
        if let instanceID = pending.instance { instances[instanceID]?.requests.remove(id) }
        if code == .noResponse { failOnDeadInstance(pending) } else { replyError(pending, code) }
    }

    /// A drained instance with nothing in flight: closing its channel ends it
    /// (it exits on EOF); it is forgotten first so the close is not a death.
    private func stopInstance(_ id: UInt32) {
        guard let record = instances.removeValue(forKey: id) else { return }
        logger.info("instance \(id) stopped after serving \(record.served) requests")
        noteInstanceGone(record)
        record.channel.close()
    }

    /// A stuck instance: every request still on it already got its 504.
    private func killInstance(_ id: UInt32) {
        guard let record = instances.removeValue(forKey: id) else { return }
        logger.warning("instance \(id) killed: a request ran past maxDuration + stuckGrace")
        noteInstanceGone(record)
        if let pid = record.pid { kill(pid, SIGKILL) }
        record.channel.close()
        for requestID in record.requests.sorted() {
            if let pending = requests.removeValue(forKey: requestID) { failOnDeadInstance(pending) }
        }
    }

    // MARK: - What the scheduler cannot see

    private func expireStarts() {
        let limit = UInt64(Self.instanceStartTimeoutSeconds * 1e9)
        let current = tp_monotonic_nanos()
        for record in instances.values.sorted(by: { $0.id < $1.id }) where !record.isReady {
            guard current &- record.decidedAt > limit else { continue }
            logger.error("instance \(record.id) did not become ready within \(Int(Self.instanceStartTimeoutSeconds)) s; giving up on it")
            if let pid = record.pid { kill(pid, SIGKILL) }
            record.channel.close()
            instanceDied(record, reason: .endOfFile, reported: true)
        }
    }

    /// A queued request whose client left (its connection read the end):
    /// out of the queue at once, its place free for the next request, logged
    /// and counted as 499.
    func leaveQueue(_ pending: PendingRequest) {
        logger.debug("request \(pending.id): the client left while it was queued")
        requests[pending.id] = nil
        clientLeftQueued(pending)
        report(.requestCancelled(RequestID(UInt64(pending.id)), now: now))
    }

    // MARK: - Ids

    /// The scheduler's ids are the wire's ids (both chosen by the host side).
    static func wire(_ id: InstanceID) -> UInt32 { UInt32(truncatingIfNeeded: id.rawValue) }
    static func wire(_ id: RequestID) -> UInt32 { UInt32(truncatingIfNeeded: id.rawValue) }
    static func scheduler(_ id: UInt32) -> InstanceID { InstanceID(Int(id)) }
}
