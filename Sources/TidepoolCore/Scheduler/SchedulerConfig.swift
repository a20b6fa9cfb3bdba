/// Every knob of the scheduler, with the defaults the product ships.
///
/// A plain value: the CLI fills it from `config/tidepool.toml` and flags, calls
/// `validate(machineMemoryBytes:)` so a bad value stops the start naming its
/// key, and hands it to `Scheduler`. Durations are `Duration`s; the TOML file
/// spells them in seconds (see `Key.unit`).
public struct SchedulerConfig: Equatable, Sendable {
    /// `fluid` packs many requests into one instance; `classic` runs one
    /// request per instance (traditional serverless), for comparison.
    public var mode: Mode = .fluid
    /// The pool never shrinks below this (1: a quiet app answers without a cold start).
    public var minInstances: Int = 1
    /// Hard cap on instances, draining ones included (they still hold memory).
    /// `nil` derives it from machine memory ÷ `instanceMemoryMB`.
    public var maxInstances: Int? = nil
    /// A pool that neither grows nor shrinks (`--instances N`): placement
    /// spreads requests over it instead of packing (see `Placement`).
    public var isPinned: Bool { maxInstances == minInstances }
    /// Idle warm instances kept ahead of demand, on top of what the load needs.
    public var spareInstances: Int = 0
    /// Requests one instance runs at once in fluid mode (its handler threads).
    public var maxConcurrency: Int = 32
    /// Fraction of the slots the autoscaler aims to use (Knative's 70 %), so
    /// a burst finds headroom before new instances are ready.
    public var targetUtilisation: Double = 0.7
    /// Long averaging window: the only one that may scale the pool down.
    public var stableWindow: Duration = .seconds(60)
    /// Short averaging window that detects bursts (Knative's panic window).
    public var panicWindow: Duration = .seconds(6)
    /// Panic when the panic window asks for this many times the ready instances.
    public var panicThreshold: Double = 2.0
    /// An instance unused this long may be drained and stopped.
    public var idleTimeout: Duration = .seconds(60)
    /// Requests that may wait for a slot; one more is rejected with 503.
    public var queueDepth: Int = 1000
    /// Longest wait in the queue before a 503.
    public var queueTimeout: Duration = .seconds(10)
    /// Longest a request may run before the client gets a 504 (Vercel's `maxDuration`).
    public var maxDuration: Duration = .seconds(300)
    /// Extra time a request past `maxDuration` may hold its instance before the
    /// instance is drained and killed.
    public var stuckGrace: Duration = .seconds(10)
    /// Instances that may be starting at once, so a burst is not a fork storm.
    public var maxStartsInFlight: Int = 8
    /// CPU share (of one core) at which an instance is saturated: its one
    /// interpreter holds the GIL nearly all the time, so more threads only queue.
    /// 0.75, not 0.9: a GIL-bound instance sharing the machine with the front
    /// and other instances measures 0.84-0.89 of a core, so at 0.9 it was never
    /// seen as saturated and a pinned pool of 2 sent every request to one
    /// instance (examples/flask /api/data, wrk -c16: 3,113 req/s with one
    /// instance idle; 4,745 req/s at 0.75 with both used).
    public var saturationThreshold: Double = 0.75
    /// Window over which an instance's CPU share is measured.
    public var saturationWindow: Duration = .seconds(2)
    /// Memory one instance is budgeted, used to derive `maxInstances`.
    public var instanceMemoryMB: Int = 256

    public init() {}

    /// One request per instance, or many.
    public enum Mode: String, Sendable, CaseIterable {
        case fluid
        case classic
    }

    /// Requests one instance may run at once in this configuration.
    public var slotsPerInstance: Int {
        mode == .classic ? 1 : maxConcurrency
    }

    /// `instanceMemoryMB` in bytes: the RSS above which an instance is recycled.
    public var instanceMemoryBytes: UInt64 {
        UInt64(max(1, instanceMemoryMB)) * 1_048_576
    }

    /// `maxInstances` if set, else as many `instanceMemoryMB` instances as the
    /// machine's memory holds (at least one).
    public func resolvedMaxInstances(machineMemoryBytes: UInt64) -> Int {
        if let maxInstances { return maxInstances }
        return max(1, Int(clamping: machineMemoryBytes / instanceMemoryBytes))
    }

    /// How often the executor should send `tick`: often enough that queue
    /// timeouts, deadlines and the panic window are seen promptly, never more
    /// than 4 times a second (the scheduler is cheap, but not free).
    public var suggestedTickInterval: Duration {
        let candidates: [Duration] = [.seconds(1), panicWindow / 12, queueTimeout / 10, saturationWindow / 4]
        return max(.milliseconds(250), candidates.min() ?? .seconds(1))
    }
}

extension SchedulerConfig {
    /// Names of the configuration keys as they appear in `config/tidepool.toml`.
    public enum Key: String, Sendable, CaseIterable {
        case mode, minInstances, maxInstances, spareInstances, maxConcurrency
        case targetUtilisation, stableWindow, panicWindow, panicThreshold
        case idleTimeout, queueDepth, queueTimeout, maxDuration, stuckGrace
        case maxStartsInFlight, saturationThreshold, saturationWindow, instanceMemoryMB

        /// The unit the file spells the value in, for its documentation.
        public var unit: String {
            switch self {
            case .mode: "\"fluid\" | \"classic\""
            case .minInstances, .maxInstances, .spareInstances, .maxStartsInFlight: "instances"
            case .maxConcurrency: "requests per instance"
            case .queueDepth: "requests"
            case .targetUtilisation: "fraction of slots (0–1]"
            case .panicThreshold: "× ready instances"
            case .saturationThreshold: "fraction of one CPU core"
            case .stableWindow, .panicWindow, .idleTimeout, .queueTimeout, .maxDuration, .stuckGrace,
                 .saturationWindow: "seconds"
            case .instanceMemoryMB: "MiB"
            }
        }
    }

    /// A value that cannot run, naming the key and why.
    public struct ValidationError: Error, Equatable, Sendable, CustomStringConvertible {
        public var key: Key
        public var reason: String

        public init(key: Key, reason: String) {
            self.key = key
            self.reason = reason
        }

        public var description: String { "\(key.rawValue): \(reason)" }
    }

    /// Every problem with this configuration (empty when it is valid). With
    /// `machineMemoryBytes`, a derived `maxInstances` is checked as well.
    public func validate(machineMemoryBytes: UInt64? = nil) -> [ValidationError] {
        var errors: [ValidationError] = []
        func fail(_ key: Key, _ reason: String) { errors.append(ValidationError(key: key, reason: reason)) }
        func positive(_ key: Key, _ value: Duration) {
            if value <= .zero { fail(key, "must be greater than 0 seconds") }
        }

        if minInstances < 0 { fail(.minInstances, "must be 0 or more") }
        if let maxInstances {
            if maxInstances < 1 {
                fail(.maxInstances, "must be at least 1")
            } else if maxInstances < minInstances {
                fail(.maxInstances, "must be at least minInstances (\(minInstances))")
            }
        } else if let machineMemoryBytes {
            let derived = resolvedMaxInstances(machineMemoryBytes: machineMemoryBytes)
            if derived < minInstances {
                fail(.maxInstances, "memory allows only \(derived) instances of \(instanceMemoryMB) MiB, below minInstances (\(minInstances))")
            }
        }
        if spareInstances < 0 { fail(.spareInstances, "must be 0 or more") }
        if maxConcurrency < 1 { fail(.maxConcurrency, "must be at least 1") }
        if !(targetUtilisation > 0 && targetUtilisation <= 1) { fail(.targetUtilisation, "must be in (0, 1]") }
        positive(.stableWindow, stableWindow)
        positive(.panicWindow, panicWindow)
        if panicWindow > stableWindow { fail(.panicWindow, "must not be longer than stableWindow") }
        if !(panicThreshold >= 1) { fail(.panicThreshold, "must be at least 1") }
        if idleTimeout < .zero { fail(.idleTimeout, "must be 0 seconds or more") }
        if queueDepth < 0 { fail(.queueDepth, "must be 0 or more") }
        positive(.queueTimeout, queueTimeout)
        positive(.maxDuration, maxDuration)
        if stuckGrace < .zero { fail(.stuckGrace, "must be 0 seconds or more") }
        if maxStartsInFlight < 1 { fail(.maxStartsInFlight, "must be at least 1") }
        if !(saturationThreshold > 0) { fail(.saturationThreshold, "must be greater than 0") }
        positive(.saturationWindow, saturationWindow)
        if instanceMemoryMB < 1 { fail(.instanceMemoryMB, "must be at least 1") }
        return errors
    }
}
