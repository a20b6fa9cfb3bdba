/// The Fluid scheduler: decides where every request goes and how many
/// instances run. A pure state machine: the host feeds it `SchedulerEvent`s
/// and executes the `SchedulerAction`s each call returns, in order; nothing
/// else decides. No IO, no clock, no threads, so the same value drives the
/// real host, `tidepool simulate` and the unit tests.
///
/// Lifecycle for the executor:
/// 1. `var scheduler = try Scheduler(config:machineMemoryBytes:)`
/// 2. `scheduler.handle(.tick(now:))` once: it starts `minInstances`.
/// 3. Feed every event as it happens, plus a `tick` every
///    `config.suggestedTickInterval`; execute the returned actions.
///
/// One call may return many actions: e.g. a request that cannot be placed is
/// queued *and* instances are started in the same call.
public struct Scheduler: Sendable {
    public let config: SchedulerConfig
    /// `config.maxInstances`, or the count derived from the machine's memory.
    public let maxInstances: Int
    /// Every instance the scheduler has not stopped, killed or seen die.
    public internal(set) var instances: [InstanceID: InstanceRecord] = [:]
    /// Requests waiting for a slot.
    public private(set) var queue = RequestQueue()
    /// Requests holding a slot on some instance.
    public private(set) var running: [RequestID: RunningRequest] = [:]
    public internal(set) var autoscaler: Autoscaler
    /// The last time the pool grew or shrank, and why.
    public internal(set) var lastScale: ScaleEvent?

    /// Starts that died before answering ready, in a row. From
    /// `crashLoopThreshold` on, starts back off exponentially so an app that
    /// cannot import does not become a fork storm.
    public private(set) var failedStartsInARow = 0
    /// No start before this instant (crash-loop back-off).
    public private(set) var startsBlockedUntil: Instant?
    public static let crashLoopThreshold = 3
    public static let crashLoopMaxBackoff: Duration = .seconds(30)

    /// The current deployment; `redeploy` increments it. Instances of older
    /// generations serve only until the current one is up (Redeploy.swift).
    public internal(set) var generation = 0

    private var nextInstanceNumber = 1
    private var lastNow: Instant?
    /// `config.saturationWindow / 2`, the concurrency limit's adaptation
    /// period, divided once (Duration division is 128-bit arithmetic).
    private let adaptPeriod: Duration

    /// A request on an instance.
    public struct RunningRequest: Equatable, Sendable {
        public var instance: InstanceID
        public var dispatchedAt: Instant
        /// Already answered with 504; still occupies its slot.
        public var timedOut = false
        /// The client left; still occupies its slot.
        public var cancelled = false
    }

    /// One change of the pool size.
    public struct ScaleEvent: Equatable, Sendable {
        public enum Direction: String, Sendable { case up, down }
        public var direction: Direction
        public var reason: ScaleReason
        public var count: Int
        public var at: Instant
    }

    /// - Parameter machineMemoryBytes: the machine's memory, used when
    ///   `config.maxInstances` is nil.
    /// - Throws: the first of `config.validate(machineMemoryBytes:)`'s errors.
    public init(config: SchedulerConfig, machineMemoryBytes: UInt64) throws(SchedulerConfig.ValidationError) {
        if let error = config.validate(machineMemoryBytes: machineMemoryBytes).first { throw error }
        self.config = config
        maxInstances = config.resolvedMaxInstances(machineMemoryBytes: machineMemoryBytes)
        autoscaler = Autoscaler(config: config, origin: .zero)
        adaptPeriod = config.saturationWindow / 2
    }

    /// Mutates the record of `id` (if any) where it is stored. Runs on every
    /// request: `instances[id]?.x = ...` moves the record out as an Optional
    /// and back for each statement, `values[index]` does not.
    @inline(__always)
    private mutating func modifyInstance(_ id: InstanceID, _ body: (inout InstanceRecord) -> Void) {
        guard let index = instances.index(forKey: id) else { return }
        body(&instances.values[index])
    }

    /// Applies one event and returns what to do about it.
    public mutating func handle(_ event: SchedulerEvent) -> [SchedulerAction] {
        var actions: [SchedulerAction] = []
        handle(event, into: &actions)
        return actions
    }

    /// `handle(_:)`, appending the actions to `actions`: a host that empties
    /// and passes the same array for every event (keeping its capacity) makes
    /// no array per request.
    public mutating func handle(_ event: SchedulerEvent, into actions: inout [SchedulerAction]) {
        // Time never runs backwards here, whatever the caller's clock did.
        let now = max(event.now, lastNow ?? event.now)
        if lastNow == nil { autoscaler = Autoscaler(config: config, origin: now) }
        lastNow = now
        autoscaler.advance(to: now)

        var step = Step(now: now)
        swap(&step.actions, &actions)
        defer { swap(&step.actions, &actions) }
        switch event {
        case .requestArrived(let id, _):
            arrive(id, &step)
        case .requestFinished(let id, _, let cpu, let wall, _):
            finish(id, cpu: cpu, wall: wall, &step)
        case .requestCancelled(let id, _):
            if !queue.remove(id) { running[id]?.cancelled = true }
        case .instanceReady(let id, let kind, let startDuration, _):
            if var instance = instances[id], instance.isStarting {
                instance.state = .ready
                instance.readyAt = now
                instance.lastUsed = now
                instance.startKind = kind
                instance.startDuration = startDuration
                // Its CPU share is measured from when it could first work.
                instance.cpu = CPUSaturation(window: config.saturationWindow, since: now)
                instance.concurrencyLimit = learnedConcurrencyLimit
                instance.limitChangedAt = now
                instance.busyMark = now
                instances[id] = instance
                failedStartsInARow = 0
                startsBlockedUntil = nil
            }
        case .instanceDied(let id, _):
            died(id, &step)
        case .instanceStats(let id, let rssBytes, let cpuTotal, _):
            instances[id]?.rssBytes = rssBytes
            instances[id]?.accountBusy(until: now)
            instances[id]?.cpu.recordStats(cpuTotal: cpuTotal, at: now)
            step.cpuNews = .one(id)
            recycleIfOverMemory(id, &step)
        case .tick:
            enforceDeadlines(&step)
            let ids = instances.keys.sorted()
            for id in ids { instances[id]?.accountBusy(until: now) }
            step.cpuNews = .all(ids)
        case .redeploy:
            beginRedeploy(&step)
        }

        // New CPU information: adapt the concurrency limits it concerns.
        let (slots, threshold, period) = (config.slotsPerInstance, config.saturationThreshold, adaptPeriod)
        func adapt(_ id: InstanceID) {
            modifyInstance(id) { $0.adaptConcurrencyLimit(slots: slots, threshold: threshold, period: period, now: now) }
        }
        switch step.cpuNews {
        case .none: break
        case .one(let id): adapt(id)
        case .all(let ids): for id in ids { adapt(id) }
        }

        expireQueue(&step)
        dispatchQueued(&step)
        endStuckAndDrained(&step)
        scale(&step)
        retireOldGenerations(&step)
        endStuckAndDrained(&step)
        var demand = Autoscaler.DemandSum(waiting: queue.count, config: config, now: now)
        forEachInstanceInPlace { demand.add($0) }
        autoscaler.setCurrent(demand.demand)
    }

    /// What one `handle` call accumulates.
    struct Step {
        let now: Instant
        var actions: [SchedulerAction] = []
        /// Why instances are being replaced, if this event killed or lost some.
        var cause: ScaleReason?
        /// Requests turned away for a full queue: demand the queue could not hold.
        var turnedAway = 0
        /// Instances with new CPU information (a finish, a stats frame; all on tick).
        var cpuNews = CPUNews.none
    }

    /// Which instances have new CPU information. Not an array: a finish (one
    /// per request) allocated a one-element array for it.
    enum CPUNews {
        case none
        case one(InstanceID)
        /// On a tick, in id order.
        case all([InstanceID])
    }

    // MARK: - Requests

    private mutating func arrive(_ id: RequestID, _ step: inout Step) {
        guard running[id] == nil, !queue.contains(id) else { return } // duplicate: keep the first
        // Older requests go first: they may have expired or found a slot by now.
        expireQueue(&step)
        dispatchQueued(&step)
        if queue.isEmpty, let target = place(step.now) {
            dispatch(id, to: target, &step)
        } else if queue.count < config.queueDepth {
            queue.append(id, arrivedAt: step.now)
        } else {
            step.actions.append(.reject(id, .throttled))
            step.turnedAway += 1
        }
    }

    private mutating func finish(_ id: RequestID, cpu: Duration, wall: Duration, _ step: inout Step) {
        // The scheduler's own record says where it ran; a stale report is ignored.
        guard let request = running.removeValue(forKey: id) else { return }
        let now = step.now
        modifyInstance(request.instance) {
            $0.accountBusy(until: now)
            $0.inFlight.remove(id)
            $0.lastUsed = now
            $0.cpu.recordRequest(cpu: cpu, wall: wall, finishedAt: now)
        }
        step.cpuNews = .one(request.instance)
    }

    /// `Placement.choose` over the table, read in place.
    private mutating func place(_ now: Instant) -> InstanceID? {
        var chooser = Placement.Chooser(
            slotsPerInstance: config.slotsPerInstance, saturationThreshold: config.saturationThreshold, now: now,
            spread: config.isPinned)
        forEachInstanceInPlace { chooser.consider($0) }
        return chooser.best?.id
    }

    private mutating func dispatch(_ id: RequestID, to instance: InstanceID, _ step: inout Step) {
        running[id] = RunningRequest(instance: instance, dispatchedAt: step.now)
        let now = step.now
        modifyInstance(instance) {
            $0.accountBusy(until: now)
            $0.inFlight.insert(id)
            $0.lastUsed = now
        }
        step.actions.append(.dispatch(id, to: instance))
    }

    /// FIFO: the oldest waiting request takes the first free slot.
    private mutating func dispatchQueued(_ step: inout Step) {
        while queue.first != nil, let target = place(step.now), let next = queue.popFirst() {
            dispatch(next.id, to: target, &step)
        }
    }

    /// Requests that waited `queueTimeout` get 503.
    private mutating func expireQueue(_ step: inout Step) {
        while let head = queue.first, step.now - head.arrivedAt >= config.queueTimeout {
            _ = queue.popFirst()
            step.actions.append(.reject(head.id, .throttled))
        }
    }

    /// 504 for requests past `maxDuration` (their slot stays taken), and
    /// drain for instances holding one past `maxDuration` + `stuckGrace`.
    private mutating func enforceDeadlines(_ step: inout Step) {
        for id in running.keys.sorted() {
            guard let request = running[id] else { continue }
            let age = step.now - request.dispatchedAt
            if !request.timedOut, age >= config.maxDuration {
                running[id]?.timedOut = true
                if !request.cancelled { step.actions.append(.reject(id, .invocationTimeout)) }
            }
            if age >= config.maxDuration + config.stuckGrace,
               var instance = instances[request.instance], !instance.isStuck {
                instance.isStuck = true
                instance.state = .draining(.stuck)
                instances[instance.id] = instance
                step.actions.append(.drain(instance.id, reason: .stuck))
                step.cause = .stuck
                lastScale = ScaleEvent(direction: .down, reason: .stuck, count: 1, at: step.now)
            }
        }
    }

    /// An instance whose RSS passed its memory size drains (what it holds
    /// finishes; it takes nothing new) and `scale` starts its replacement.
    private mutating func recycleIfOverMemory(_ id: InstanceID, _ step: inout Step) {
        guard var instance = instances[id], instance.isServing,
              let rss = instance.rssBytes, rss > config.instanceMemoryBytes else { return }
        instance.state = .draining(.memory)
        instances[id] = instance
        step.actions.append(.drain(id, reason: .memory))
        step.cause = .memory
        lastScale = ScaleEvent(direction: .down, reason: .memory, count: 1, at: step.now)
    }

    // MARK: - Instances

    private mutating func died(_ id: InstanceID, _ step: inout Step) {
        guard let instance = instances.removeValue(forKey: id) else { return }
        if instance.isStarting {
            failedStartsInARow += 1
            if failedStartsInARow >= Self.crashLoopThreshold {
                let doublings = min(failedStartsInARow - Self.crashLoopThreshold, 10)
                startsBlockedUntil = step.now + min(Self.crashLoopMaxBackoff, .seconds(1) * (1 << doublings))
            }
        }
        var failed: [RequestID] = []
        for requestID in instance.inFlight.sorted() {
            if let request = running.removeValue(forKey: requestID), !request.timedOut, !request.cancelled {
                failed.append(requestID)
            }
        }
        if !failed.isEmpty { step.actions.append(.failRequests(failed, .noResponse)) }
        step.cause = .died
    }

    /// Stop drained instances with nothing in flight; kill stuck ones whose
    /// every remaining request is past its own deadline (already answered).
    mutating func endStuckAndDrained(_ step: inout Step) {
        // Runs twice per event: without a draining instance (the common case)
        // it has nothing to do, and the sorted copy of the ids is skipped.
        guard instances.values.contains(where: \.isDraining) else { return }
        for id in instances.keys.sorted() {
            guard let instance = instances[id], instance.isDraining else { continue }
            if instance.inFlight.isEmpty {
                instances[id] = nil
                step.actions.append(.stop(id))
            } else if instance.isStuck, instance.inFlight.allSatisfy({ running[$0]?.timedOut ?? true }) {
                for requestID in instance.inFlight { running[requestID] = nil }
                instances[id] = nil
                step.actions.append(.kill(id))
                step.cause = .stuck
            }
        }
    }

    /// Calls `body` with each record where it is stored, in `instances.values`
    /// order. The dictionary's `_modify` yields the stored record, where its
    /// getter (and `for x in instances.values`) copies it: the per-event walks
    /// (placement, demand) only read, but a copy retains and releases the Set
    /// and the windows every record holds.
    @inline(__always)
    mutating func forEachInstanceInPlace(_ body: (inout InstanceRecord) -> Void) {
        var index = instances.values.startIndex
        while index != instances.values.endIndex {
            body(&instances.values[index])
            instances.values.formIndex(after: &index)
        }
    }

    /// A fresh instance id (never reused).
    mutating func takeInstanceID() -> InstanceID {
        defer { nextInstanceNumber += 1 }
        return InstanceID(nextInstanceNumber)
    }

    /// The limit the serving instances learned (their median), which a new
    /// instance starts from: it runs the same app. `Int.max` when none learned.
    var learnedConcurrencyLimit: Int {
        let limits = instances.values.filter(\.isServing).map(\.concurrencyLimit).sorted()
        return limits.isEmpty ? Int.max : limits[(limits.count - 1) / 2]
    }
}
