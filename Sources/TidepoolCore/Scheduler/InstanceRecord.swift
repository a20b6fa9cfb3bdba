/// What the scheduler knows about one instance.
public struct InstanceRecord: Equatable, Sendable {
    /// Where an instance is in its life. Idle and busy are not states: they are
    /// `ready` with zero or some requests in flight.
    public enum State: Equatable, Sendable {
        /// Asked to start; counts as capacity (so a burst does not start twice),
        /// but is never placed on.
        case starting
        /// Serving.
        case ready
        /// Gets no new requests; stopped (or killed, if stuck) once its
        /// in-flight requests are done.
        case draining(ScaleReason)
    }

    public let id: InstanceID
    public internal(set) var state: State
    /// Why it was started.
    public let startReason: ScaleReason
    /// The deployment it runs (`Scheduler.generation` when it was asked for):
    /// a redeploy starts a newer one and retires the older (Redeploy.swift).
    public let generation: Int
    /// When the scheduler asked for it.
    public let requestedAt: Instant
    /// When it answered ready, and how it was started.
    public internal(set) var readyAt: Instant?
    public internal(set) var startKind: StartKind?
    public internal(set) var startDuration: Duration?
    /// Requests holding a slot here (including ones already answered with 504
    /// or whose client left: Python is still running them).
    public internal(set) var inFlight: Set<RequestID> = []
    /// Last time a request was placed here or finished here (its ready time
    /// before that): packing ties and LRU shrink use it.
    public internal(set) var lastUsed: Instant
    /// Holds a request past `maxDuration` + `stuckGrace`: drained, killed when
    /// its other requests are done or past their own deadlines.
    public internal(set) var isStuck = false
    /// Resident memory from the last stats frame.
    public internal(set) var rssBytes: UInt64?
    /// Its interpreter's CPU share over the saturation window.
    public internal(set) var cpu: CPUSaturation
    /// Requests it may run at once as learned from saturation (`Int.max`:
    /// nothing learned, the mode's slots apply). See `ConcurrencyLimit.swift`.
    public internal(set) var concurrencyLimit = Int.max
    /// Busy time is accounted up to here (see `accountBusy`).
    var busyMark: Instant
    /// When `concurrencyLimit` last changed (it changes at most once per
    /// half saturation window, so the CPU window can catch up).
    var limitChangedAt: Instant

    init(id: InstanceID, reason: ScaleReason, requestedAt: Instant, saturationWindow: Duration, generation: Int = 0) {
        self.id = id
        self.generation = generation
        state = .starting
        startReason = reason
        self.requestedAt = requestedAt
        lastUsed = requestedAt
        limitChangedAt = requestedAt
        busyMark = requestedAt
        cpu = CPUSaturation(window: saturationWindow, since: requestedAt)
    }

    /// Ready and not draining: may take requests.
    public var isServing: Bool { state == .ready }
    public var isStarting: Bool { state == .starting }
    public var isDraining: Bool {
        if case .draining = state { return true }
        return false
    }

    /// Saturated at `now`: its interpreter's share is at or above `threshold`.
    public func isSaturated(at now: Instant, threshold: Double) -> Bool {
        cpu.share(at: now) >= threshold
    }

    /// Saturated *and* busy: it takes no new request and its capacity is only
    /// what it already runs. With nothing in flight it is placeable again, so
    /// a lone saturated instance can never deadlock the queue.
    public func isHeldBySaturation(at now: Instant, threshold: Double) -> Bool {
        !inFlight.isEmpty && isSaturated(at: now, threshold: threshold)
    }

    /// Adds the time since the last mark to its busy time if it had work in
    /// flight. Call before its in-flight set changes and before reading CPU.
    mutating func accountBusy(until now: Instant) {
        if !inFlight.isEmpty { cpu.recordBusy(from: busyMark, to: now) }
        busyMark = max(busyMark, now)
    }
}
