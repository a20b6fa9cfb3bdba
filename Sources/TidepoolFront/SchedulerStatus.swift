import TidepoolCore

/// The scheduler's part of `/_tidepool/status`: the configuration in force,
/// the window averages, the desired pool size and why, and each instance as
/// the scheduler and the host see it. Unknown values are `null`.
struct SchedulerStatusView: Encodable {
    struct ConfigView: Encodable {
        let mode: String
        let minInstances: Int
        let maxInstances: Int
        let maxInstancesConfigured: Int?
        let spareInstances: Int
        let maxConcurrency: Int
        let slotsPerInstance: Int
        let targetUtilisation: Double
        let stableWindowSeconds: Double
        let panicWindowSeconds: Double
        let panicThreshold: Double
        let idleTimeoutSeconds: Double
        let queueDepth: Int
        let queueTimeoutSeconds: Double
        let maxDurationSeconds: Double
        let stuckGraceSeconds: Double
        let maxStartsInFlight: Int
        let saturationThreshold: Double
        let saturationWindowSeconds: Double
        let instanceMemoryMB: Int
        let tickSeconds: Double
    }
    struct ScaleView: Encodable {
        let direction: String
        let reason: String
        let count: Int
        let secondsAgo: Double
    }
    let config: ConfigView
    let queued: Int
    let oldestQueuedWaitSeconds: Double?
    let inFlight: Int
    let stableAverageConcurrency: Double
    let panicAverageConcurrency: Double
    let stableAverageDemand: Double
    let panicAverageDemand: Double
    let stableDesired: Int
    let panicDesired: Int
    let immediateDesired: Int
    let desired: Int
    let keep: Int
    /// Which rule the desired count follows now.
    let desiredBecause: String
    let panicking: Bool
    let lastScale: ScaleView?
    let startsBlockedForSeconds: Double?

    init(_ s: SchedulerSnapshot) {
        let c = s.config
        config = ConfigView(
            mode: c.mode.rawValue, minInstances: c.minInstances, maxInstances: s.maxInstances,
            maxInstancesConfigured: c.maxInstances, spareInstances: c.spareInstances,
            maxConcurrency: c.maxConcurrency, slotsPerInstance: c.slotsPerInstance,
            targetUtilisation: c.targetUtilisation, stableWindowSeconds: c.stableWindow.seconds,
            panicWindowSeconds: c.panicWindow.seconds, panicThreshold: c.panicThreshold,
            idleTimeoutSeconds: c.idleTimeout.seconds, queueDepth: c.queueDepth,
            queueTimeoutSeconds: c.queueTimeout.seconds, maxDurationSeconds: c.maxDuration.seconds,
            stuckGraceSeconds: c.stuckGrace.seconds, maxStartsInFlight: c.maxStartsInFlight,
            saturationThreshold: c.saturationThreshold, saturationWindowSeconds: c.saturationWindow.seconds,
            instanceMemoryMB: c.instanceMemoryMB, tickSeconds: c.suggestedTickInterval.seconds)
        queued = s.queued
        oldestQueuedWaitSeconds = s.oldestQueuedWait?.seconds
        inFlight = s.inFlight
        stableAverageConcurrency = s.stableAverageConcurrency
        panicAverageConcurrency = s.panicAverageConcurrency
        stableAverageDemand = s.stableAverageDemand
        panicAverageDemand = s.panicAverageDemand
        stableDesired = s.stableDesired
        panicDesired = s.panicDesired
        immediateDesired = s.immediateDesired
        desired = s.desired
        keep = s.keep
        panicking = s.panicking
        desiredBecause = Self.because(s)
        lastScale = s.lastScale.map {
            ScaleView(direction: $0.direction.rawValue, reason: $0.reason.rawValue, count: $0.count,
                      secondsAgo: (s.at - $0.at).seconds)
        }
        startsBlockedForSeconds = s.startsBlockedUntil.map { ($0 - s.at).seconds }
    }

    /// The largest term of `desired`, named.
    private static func because(_ s: SchedulerSnapshot) -> String {
        let c = s.config
        if s.desired == s.maxInstances && s.desired > c.minInstances { return "maxInstances" }
        let demand = s.desired - c.spareInstances
        if s.immediateDesired > 0 && s.immediateDesired >= demand { return "queue" }
        if s.panicking && s.panicDesired >= demand { return "panic" }
        if s.stableDesired >= demand && s.stableDesired > c.minInstances { return "stable window" }
        if c.spareInstances > 0 && s.desired > c.minInstances { return "spareInstances" }
        return "minInstances"
    }
}

/// One instance in `/_tidepool/status`: `id`, `pid`, `state`
/// (`starting`/`ready`/`draining`) and `inFlight` as before, plus the
/// scheduler's view.
struct InstanceStatusView: Encodable {
    let id: UInt32
    let pid: Int32?
    let state: String
    /// `starting`, `idle`, `busy` or `draining` (the scheduler's word).
    let activity: String
    let inFlight: Int
    let slotLimit: Int
    let freeSlots: Int
    let cpuShare: Double
    let saturated: Bool
    let rssBytes: UInt64?
    let ageSeconds: Double
    let idleSeconds: Double
    let served: Int
    let startReason: String
    let drainReason: String?
    let startKind: String
    let startMillis: Double?

    private enum CodingKeys: String, CodingKey {
        case id, pid, state, activity, inFlight, slotLimit, freeSlots, cpuShare, saturated, rssBytes
        case ageSeconds, idleSeconds, served, startReason, drainReason, startKind, startMillis
    }

    init(_ i: SchedulerSnapshot.Instance, record: InstanceRecord?, at now: Instant, slots: Int) {
        id = HostRuntime.wire(i.id)
        pid = record?.pid
        state = switch i.state {
        case "idle", "busy": "ready"
        default: i.state
        }
        activity = i.state
        inFlight = i.inFlight
        slotLimit = min(i.concurrencyLimit, slots)
        freeSlots = i.freeSlots
        cpuShare = (i.cpuShare * 1000).rounded() / 1000
        saturated = i.saturated
        rssBytes = i.rssBytes
        ageSeconds = record.map { HostRuntime.millis(since: $0.decidedAt) / 1000 } ?? 0
        idleSeconds = (now - i.lastUsed).seconds
        served = record?.served ?? 0
        startReason = i.startReason.rawValue
        drainReason = i.drainReason?.rawValue
        startKind = (record?.kind ?? i.startKind ?? .fork).name
        startMillis = record?.startMillis
    }

    /// Unknown values are `null`, not missing keys: the schema stays the same in every state.
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(pid, forKey: .pid)
        try c.encode(state, forKey: .state)
        try c.encode(activity, forKey: .activity)
        try c.encode(inFlight, forKey: .inFlight)
        try c.encode(slotLimit, forKey: .slotLimit)
        try c.encode(freeSlots, forKey: .freeSlots)
        try c.encode(cpuShare, forKey: .cpuShare)
        try c.encode(saturated, forKey: .saturated)
        try c.encode(rssBytes, forKey: .rssBytes)
        try c.encode(ageSeconds, forKey: .ageSeconds)
        try c.encode(idleSeconds, forKey: .idleSeconds)
        try c.encode(served, forKey: .served)
        try c.encode(startReason, forKey: .startReason)
        try c.encode(drainReason, forKey: .drainReason)
        try c.encode(startKind, forKey: .startKind)
        try c.encode(startMillis, forKey: .startMillis)
    }
}

extension Duration {
    /// Seconds as a Double, for JSON.
    var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }
}
