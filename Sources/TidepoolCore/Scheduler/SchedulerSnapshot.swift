/// What the scheduler is doing and why, at one moment: the status page and
/// the metrics render this. A copy, so it can be handed to another thread.
public struct SchedulerSnapshot: Sendable {
    public var at: Instant
    public var config: SchedulerConfig
    /// The cap in force (configured or derived from memory).
    public var maxInstances: Int
    public var instances: [Instance]
    public var queued: Int
    /// How long the oldest queued request has waited.
    public var oldestQueuedWait: Duration?
    /// Requests holding a slot (including 504'd and cancelled ones still running).
    public var inFlight: Int

    /// Averaged concurrency (in flight on serving instances + queued).
    public var stableAverageConcurrency: Double
    public var panicAverageConcurrency: Double
    /// Averaged demand in instances (saturation included).
    public var stableAverageDemand: Double
    public var panicAverageDemand: Double
    public var stableDesired: Int
    public var panicDesired: Int
    /// Instances the waiting requests need right now (0 when none wait).
    public var immediateDesired: Int
    /// The pool size the scheduler grows to now.
    public var desired: Int
    /// The pool size it may shrink to (idle instances above it drain).
    public var keep: Int
    public var panicking: Bool
    public var lastScale: Scheduler.ScaleEvent?
    /// Set while starts back off because instances keep dying before ready.
    public var startsBlockedUntil: Instant?

    /// One instance, flattened for display.
    public struct Instance: Equatable, Sendable {
        public var id: InstanceID
        /// `starting`, `idle`, `busy` or `draining`.
        public var state: String
        public var drainReason: ScaleReason?
        public var startReason: ScaleReason
        public var inFlight: Int
        /// Requests it may run at once now (slots, or the limit learned from saturation).
        public var concurrencyLimit: Int
        /// Requests it would take now: 0 while held by CPU saturation.
        public var freeSlots: Int
        public var cpuShare: Double
        public var saturated: Bool
        public var lastUsed: Instant
        public var rssBytes: UInt64?
        public var startKind: StartKind?
        public var startDuration: Duration?
    }

    public func count(inState state: String) -> Int {
        instances.count { $0.state == state }
    }
}

extension Scheduler {
    /// The decision state at `now`, without changing anything.
    public func snapshot(at now: Instant) -> SchedulerSnapshot {
        let plan = plan(at: now)
        let slots = config.slotsPerInstance
        let threshold = config.saturationThreshold
        let list = instances.values.sorted { $0.id < $1.id }.map { record -> SchedulerSnapshot.Instance in
            let state: String
            var drainReason: ScaleReason?
            switch record.state {
            case .starting: state = "starting"
            case .ready: state = record.inFlight.isEmpty ? "idle" : "busy"
            case .draining(let reason):
                state = "draining"
                drainReason = reason
            }
            let held = record.isHeldBySaturation(at: now, threshold: threshold)
            return SchedulerSnapshot.Instance(
                id: record.id, state: state, drainReason: drainReason, startReason: record.startReason,
                inFlight: record.inFlight.count,
                concurrencyLimit: record.slotLimit(slots: slots),
                freeSlots: record.isServing && !held ? max(0, record.slotLimit(slots: slots) - record.inFlight.count) : 0,
                cpuShare: record.cpu.share(at: now), saturated: record.isSaturated(at: now, threshold: threshold),
                lastUsed: record.lastUsed, rssBytes: record.rssBytes, startKind: record.startKind,
                startDuration: record.startDuration)
        }
        return SchedulerSnapshot(
            at: now, config: config, maxInstances: maxInstances, instances: list, queued: queue.count,
            oldestQueuedWait: queue.first.map { now - $0.arrivedAt }, inFlight: running.count,
            stableAverageConcurrency: autoscaler.stableAverageConcurrency(at: now),
            panicAverageConcurrency: autoscaler.panicAverageConcurrency(at: now),
            stableAverageDemand: autoscaler.stableAverageDemand(at: now),
            panicAverageDemand: autoscaler.panicAverageDemand(at: now),
            stableDesired: autoscaler.stableDesired(at: now), panicDesired: autoscaler.panicDesired(at: now),
            immediateDesired: plan.immediate, desired: plan.target, keep: plan.keep,
            panicking: autoscaler.isPanicking, lastScale: lastScale,
            startsBlockedUntil: startsBlockedUntil.flatMap { $0 > now ? $0 : nil })
    }
}
