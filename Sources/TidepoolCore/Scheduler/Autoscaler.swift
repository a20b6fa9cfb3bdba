/// How many instances the load needs: the averaging windows, Knative-style
/// panic, and the arithmetic that turns demand into an instance count.
///
/// Demand is measured in *instances*, not requests, so CPU saturation fits in:
/// an instance held by saturation needs exactly itself for what it runs, one
/// with a learned limit needs `inFlight ÷ limit` of itself, and every other
/// request needs `1 ÷ (slots × targetUtilisation)` of an instance. For an
/// I/O-bound app that is Knative's `concurrency ÷ target`; for a CPU-bound one
/// it is roughly the number of busy interpreters plus what waits.
///
/// Scale up follows the larger of: the instantaneous demand while a request
/// waits (no tick needed), the stable window's average, and — while panicking —
/// the panic window's peak. Scale down uses the stable window only, with
/// `scaleDownHysteresis`, and never while panicking.
public struct Autoscaler: Sendable {
    /// Scale down only if the stable demand fits the remaining instances at
    /// this fraction of their target: a dead band between scale-up and
    /// scale-down thresholds, so a load hovering on a boundary does not flap.
    public static let scaleDownHysteresis = 0.9

    public let stableWindow: Duration
    public let panicWindow: Duration
    public let panicThreshold: Double

    private var stableDemand: SlidingWindow
    private var panicDemand: SlidingWindow
    private var stableConcurrency: SlidingWindow
    private var panicConcurrency: SlidingWindow
    private var lastSample: Instant
    private var current = Demand(instances: 0, concurrency: 0)

    /// Panicking since the panic window last asked for ≥ `panicThreshold` ×
    /// ready instances; ends one stable window after that.
    public private(set) var panicLastTriggered: Instant?
    /// The highest panic-window desired count seen during this panic: panic
    /// never scales down, not even within itself.
    public private(set) var panicPeak = 0

    public var isPanicking: Bool { panicLastTriggered != nil }

    /// What the load needs at one moment.
    public struct Demand: Equatable, Sendable {
        /// Instances needed (fractional), saturation included.
        public var instances: Double
        /// Requests in flight on serving instances plus queued ones.
        public var concurrency: Double
    }

    public init(config: SchedulerConfig, origin: Instant) {
        stableWindow = config.stableWindow
        panicWindow = config.panicWindow
        panicThreshold = config.panicThreshold
        stableDemand = SlidingWindow(length: config.stableWindow, origin: origin, bucketCount: 60)
        panicDemand = SlidingWindow(length: config.panicWindow, origin: origin, bucketCount: 30)
        stableConcurrency = SlidingWindow(length: config.stableWindow, origin: origin, bucketCount: 60)
        panicConcurrency = SlidingWindow(length: config.panicWindow, origin: origin, bucketCount: 30)
        lastSample = origin
    }

    /// The instantaneous demand of a pool. Waiting requests need instances
    /// of the capacity the serving ones have (the median: the app's learned
    /// limit if most learned one, else slots × target utilisation).
    /// - Parameter waiting: queued requests (plus any just turned away).
    public static func demand(
        of instances: some Sequence<InstanceRecord>, waiting: Int, config: SchedulerConfig, now: Instant
    ) -> Demand {
        var sum = DemandSum(waiting: waiting, config: config, now: now)
        for instance in instances { sum.add(instance) }
        return sum.demand
    }

    /// `demand(of:)`, one instance at a time, so the scheduler can walk its
    /// table in place on every event (see `Placement.Chooser`).
    struct DemandSum {
        let waiting: Int
        let slots: Int
        let utilisation: Double
        let threshold: Double
        let now: Instant
        var needed = 0.0
        var concurrency: Int
        // The capacities array is built only when requests wait, the only case that reads it.
        var capacities: [Double] = []

        init(waiting: Int, config: SchedulerConfig, now: Instant) {
            self.waiting = waiting
            slots = config.slotsPerInstance
            utilisation = config.targetUtilisation
            threshold = config.saturationThreshold
            self.now = now
            concurrency = waiting
        }

        @inline(__always)
        mutating func add(_ instance: borrowing InstanceRecord) {
            guard instance.isServing else { return }
            concurrency += instance.inFlight.count
            needed += instance.demandInInstances(
                slots: slots, targetUtilisation: utilisation, threshold: threshold, now: now)
            if waiting > 0 { capacities.append(instance.plannedCapacity(slots: slots, targetUtilisation: utilisation)) }
        }

        var demand: Demand {
            var needed = needed
            if waiting > 0 {
                let sorted = capacities.sorted()
                let perNewInstance = sorted.isEmpty ? Double(slots) * utilisation : sorted[sorted.count / 2]
                needed += Double(waiting) / perNewInstance
            }
            return Demand(instances: needed, concurrency: Double(concurrency))
        }
    }

    /// Integrates the demand held since the last event up to `now`. Call
    /// before the event changes anything.
    mutating func advance(to now: Instant) {
        guard now > lastSample else { return }
        let seconds = Double(now.nanoseconds &- lastSample.nanoseconds) / 1e9  // (now - lastSample).inSeconds
        stableDemand.add(current.instances * seconds, from: lastSample, to: now)
        panicDemand.add(current.instances * seconds, from: lastSample, to: now)
        stableConcurrency.add(current.concurrency * seconds, from: lastSample, to: now)
        panicConcurrency.add(current.concurrency * seconds, from: lastSample, to: now)
        lastSample = now
    }

    /// The demand from now on, until the next event. Call after the event.
    mutating func setCurrent(_ demand: Demand) {
        current = demand
    }

    /// Enters, extends or leaves panic (Knative's rule): panic while the panic
    /// window asks for at least `panicThreshold` × the ready instances, and for
    /// one stable window after it last did.
    mutating func updatePanic(now: Instant, readyInstances: Int) {
        let ratio = panicAverageDemand(at: now) / Double(max(1, readyInstances))
        if ratio >= panicThreshold {
            if panicLastTriggered == nil { panicPeak = 0 }
            panicLastTriggered = now
        } else if let since = panicLastTriggered, now - since >= stableWindow {
            panicLastTriggered = nil
            panicPeak = 0
        }
        if isPanicking { panicPeak = max(panicPeak, panicDesired(at: now)) }
    }

    /// Averaged demand in instances.
    public func stableAverageDemand(at now: Instant) -> Double { average(stableDemand, current.instances, now) }
    public func panicAverageDemand(at now: Instant) -> Double { average(panicDemand, current.instances, now) }
    /// Averaged concurrency (in flight + queued), for the status page.
    public func stableAverageConcurrency(at now: Instant) -> Double {
        average(stableConcurrency, current.concurrency, now)
    }
    public func panicAverageConcurrency(at now: Instant) -> Double {
        average(panicConcurrency, current.concurrency, now)
    }

    /// The window's average at `now`, counting the current value as held since
    /// the last event (so a snapshot between events is up to date; during
    /// `handle` that tail is empty because `advance` ran first).
    private func average(_ window: SlidingWindow, _ value: Double, _ now: Instant) -> Double {
        guard now > lastSample, value != 0 else { return window.average(at: now) }
        var projected = window
        projected.add(value * (Double(now.nanoseconds &- lastSample.nanoseconds) / 1e9), from: lastSample, to: now)
        return projected.average(at: now)
    }

    public func stableDesired(at now: Instant) -> Int { Self.instances(for: stableAverageDemand(at: now)) }
    public func panicDesired(at now: Instant) -> Int { Self.instances(for: panicAverageDemand(at: now)) }

    /// What the windows ask for: the stable window, or while panicking the
    /// panic window's peak (never less than the stable window).
    public func windowDesired(at now: Instant) -> Int {
        windowDesired(at: now, stableAverage: stableAverageDemand(at: now))
    }

    /// `windowDesired(at:)` given `stableAverageDemand(at: now)`.
    func windowDesired(at now: Instant, stableAverage: Double) -> Int {
        let stable = Self.instances(for: stableAverage)
        return isPanicking ? max(stable, panicPeak, panicDesired(at: now)) : stable
    }

    /// Instances the stable window lets the pool keep when scaling down.
    public func keepDesired(at now: Instant) -> Int {
        keepDesired(stableAverage: stableAverageDemand(at: now))
    }

    /// `keepDesired(at:)` given `stableAverageDemand(at: now)`.
    func keepDesired(stableAverage: Double) -> Int {
        Self.instances(for: stableAverage / Self.scaleDownHysteresis)
    }

    /// Whole instances for a fractional demand; a hair of tolerance so 2.0000001
    /// from float sums is not 3.
    public static func instances(for demand: Double) -> Int {
        guard demand > 1e-9 else { return 0 }
        return Int((demand - 1e-9).rounded(.up))
    }
}
