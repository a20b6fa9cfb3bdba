import Prometheus
import TidepoolCore

/// Every number `/_tidepool/metrics` shows, recorded by the host as facts happen
/// (one method per fact) and rendered in Prometheus text format.
///
/// Uses swift-prometheus's `PrometheusCollectorRegistry` directly, not through
/// swift-metrics: the host is one loop thread that owns every metric, so the
/// global `MetricsSystem` factory would add a lookup per record and a
/// process-wide bootstrap without buying anything; the registry directly gives
/// HELP lines, explicit buckets in base units, and unregistering per-instance
/// series when an instance goes away.
///
/// Counters live here, in the host, never in an instance process: an instance
/// that dies takes nothing with it, so no counter goes backwards. Every label
/// value comes from a closed set (status class, `ErrorCode`, `StartKind`,
/// `ScaleReason`, scale direction) or from instance ids, which are bounded by
/// the pool's size: series of an instance that is gone are removed.
///
/// Not Sendable: the host's loop thread owns it (the registry itself is thread-safe).
public final class HostMetrics {
    public enum ScaleDirection: String, Sendable, CaseIterable {
        case up, down
    }

    /// Instances per state, as the pool sees them at scrape time.
    public struct InstanceStates: Equatable, Sendable {
        public var starting = 0, idle = 0, busy = 0, draining = 0
        public init(starting: Int = 0, idle: Int = 0, busy: Int = 0, draining: Int = 0) {
            self.starting = starting
            self.idle = idle
            self.busy = busy
            self.draining = draining
        }
    }

    /// What the host knows about one live instance at scrape time.
    public struct InstanceSample: Equatable, Sendable {
        public var id: UInt32
        public var slotLimit: Int
        public var rssBytes: UInt64?
        public init(id: UInt32, slotLimit: Int, rssBytes: UInt64?) {
            self.id = id
            self.slotLimit = slotLimit
            self.rssBytes = rssBytes
        }
    }

    static let latencyBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .seconds(2.5), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(300),
    ]
    static let coldStartBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(30),
    ]

    public let registry = PrometheusCollectorRegistry()

    // Recorded per request: LoopHistogram, rendered after the registry's series.
    private let requestDuration: LoopHistogram
    private let queueWait: LoopHistogram
    private let coldStartDuration: DurationHistogram
    private let invocations: Counter
    private let activeCPUSeconds: Counter
    private let memoryGBSeconds: Counter
    private let inFlight: Gauge
    private let queued: Gauge
    private let hostRSS: Gauge
    private let hostFDs: Gauge
    private let instanceStates: [String: Gauge]
    private let perInstance: PerInstanceGauges

    public init() {
        let r = registry
        requestDuration = LoopHistogram(
            descriptor: .tidepool("request_duration", unit: "seconds", help: "Time from a request's arrival at the front to its reply (queue wait included)."), buckets: Self.latencyBuckets)
        queueWait = LoopHistogram(
            descriptor: .tidepool("request_queue_wait", unit: "seconds", help: "Time app requests waited for a free slot before dispatch."), buckets: Self.latencyBuckets)
        coldStartDuration = r.makeDurationHistogram(
            descriptor: .tidepool("cold_start_duration", unit: "seconds", help: "Time from the decision to start an instance to its ready message."), buckets: Self.coldStartBuckets)
        invocations = r.makeCounter(
            descriptor: .tidepool("invocations", unit: "total", help: "Requests an instance ran to their end (Fluid's invocations meter)."))
        activeCPUSeconds = r.makeCounter(
            descriptor: .tidepool("active_cpu_seconds", unit: "total", help: "CPU time handler threads spent on requests (Fluid's active CPU meter)."))
        memoryGBSeconds = r.makeCounter(
            descriptor: .tidepool("provisioned_memory_gigabyte_seconds", unit: "total", help: "Configured instance memory (instanceMemoryMB) in GB (1024 MB) times instance lifetime, from the start decision to its end (Fluid's provisioned memory meter)."))
        inFlight = r.makeGauge(
            descriptor: .tidepool("requests_in_flight", unit: "", help: "App requests dispatched to an instance and not finished."))
        queued = r.makeGauge(
            descriptor: .tidepool("requests_queued", unit: "", help: "App requests waiting for a free slot."))
        hostRSS = r.makeGauge(
            descriptor: .tidepool("host_resident_memory", unit: "bytes", help: "Resident memory of the host process."))
        hostFDs = r.makeGauge(
            descriptor: .tidepool("host_open_fds", unit: "", help: "Open file descriptors of the host process."))
        var states: [String: Gauge] = [:]
        for state in ["starting", "idle", "busy", "draining"] {
            states[state] = r.makeGauge(
            descriptor: .tidepool("instances", unit: "", help: "Instances by state."), labels: [("state", state)])
        }
        instanceStates = states
        perInstance = PerInstanceGauges(registry: r)
        // Create every closed-set series up front, so rates start from 0, not from absence.
        for kind in [StartKind.fork, .spawn] { _ = coldStarts(kind) }
        for reason in ScaleReason.allCases {
            for direction in ScaleDirection.allCases { _ = scaleEvents(direction, reason) }
        }
    }

    // MARK: - Facts

    /// A request (app or static; not `/_tidepool/`) got its reply, or was cut.
    /// `status` 0 means the connection was reset before a status was sent.
    /// Times in nanoseconds, as the host's clock reads them.
    public func requestCompleted(status: Int, error: ErrorCode?, durationNanos: Int64, queueWaitNanos wait: Int64?) {
        requests(statusClass: Self.statusClassIndex(status), error: error).increment()
        requestDuration.record(nanoseconds: durationNanos)
        if let wait { queueWait.record(nanoseconds: wait) }
    }

    /// An instance answered `ready`, `coldStart` after the host decided to start it.
    public func instanceStarted(kind: StartKind, coldStart: Duration) {
        coldStarts(kind).increment()
        coldStartDuration.record(coldStart)
    }

    /// The pool grew or shrank by one instance, for `reason`.
    public func scaleEvent(direction: ScaleDirection, reason: ScaleReason) {
        scaleEvents(direction, reason).increment()
    }

    /// An instance finished a request: `cpuNanos` is its handler thread's CPU time on it.
    public func invocationEnded(cpuNanos: UInt64) {
        invocations.increment()
        activeCPUSeconds.increment(by: Double(cpuNanos) / 1e9)
    }

    /// An instance of `memoryMB` configured memory lived `duration` more
    /// (called at scrape time and when it is gone). GB = 1024 MB, as Vercel counts.
    public func instanceLifetime(memoryMB: Int, duration: Duration) {
        guard duration > .zero, memoryMB > 0 else { return }
        memoryGBSeconds.increment(by: Double(memoryMB) / 1024 * duration.seconds)
    }

    // MARK: - Scrape-time state

    /// The gauges that describe now; called right before rendering.
    public func update(
        states: InstanceStates, inFlight: Int, queued: Int, instances: [InstanceSample],
        hostRSSBytes: UInt64?, hostOpenFDs: Int?
    ) {
        instanceStates["starting"]?.set(Double(states.starting))
        instanceStates["idle"]?.set(Double(states.idle))
        instanceStates["busy"]?.set(Double(states.busy))
        instanceStates["draining"]?.set(Double(states.draining))
        self.inFlight.set(Double(inFlight))
        self.queued.set(Double(queued))
        perInstance.update(instances)
        if let hostRSSBytes { hostRSS.set(Double(hostRSSBytes)) }
        if let hostOpenFDs { hostFDs.set(Double(hostOpenFDs)) }
    }

    /// The exposition text.
    public func render() -> [UInt8] {
        var text = registry.emitToBuffer()
        requestDuration.emit(into: &text)
        queueWait.emit(into: &text)
        return text
    }

    // MARK: - Series (the registry returns the existing series for a known name and labels)

    /// `requests_total` series already looked up, by `seriesIndex`: the
    /// registry's lookup hashes the name and labels under a lock, once per
    /// request otherwise. Filled lazily, so a series still appears only once used.
    private var requestCounters = [Counter?](repeating: nil, count: statusClasses.count * (ErrorCode.allCases.count + 1))

    private func requests(statusClass: Int, error: ErrorCode?) -> Counter {
        let errorIndex = error.flatMap { ErrorCode.allCases.firstIndex(of: $0) }.map { $0 + 1 } ?? 0
        let index = statusClass * (ErrorCode.allCases.count + 1) + errorIndex
        if let counter = requestCounters[index] { return counter }
        let counter = requests(statusClass: Self.statusClasses[statusClass], error: error)
        requestCounters[index] = counter
        return counter
    }

    private func requests(statusClass: String, error: ErrorCode?) -> Counter {
        registry.makeCounter(
            descriptor: .tidepool("requests", unit: "total", help: "Requests answered, by HTTP status class and Tidepool/Vercel error code."), labels: [("status_class", statusClass), ("error", error?.rawValue ?? "none")])
    }

    private func coldStarts(_ kind: StartKind) -> Counter {
        registry.makeCounter(
            descriptor: .tidepool("cold_starts", unit: "total", help: "Instances that became ready, by how they started (fork from the template, or spawn)."), labels: [("kind", kind.name)])
    }

    private func scaleEvents(_ direction: ScaleDirection, _ reason: ScaleReason) -> Counter {
        registry.makeCounter(
            descriptor: .tidepool("scale_events", unit: "total", help: "Instances started (up) or drained (down), by the scheduler's reason."), labels: [("direction", direction.rawValue), ("reason", reason.rawValue)])
    }

    static let statusClasses = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"]

    /// `2xx`…`5xx`; anything else (0: reset before a status) is `other`.
    static func statusClass(_ status: Int) -> String {
        statusClasses[statusClassIndex(status)]
    }

    /// `status`'s index in `statusClasses`.
    static func statusClassIndex(_ status: Int) -> Int {
        (100..<600).contains(status) ? status / 100 - 1 : statusClasses.count - 1
    }
}

extension MetricNameDescriptor {
    /// `tidepool_<name>_<unit>` (no unit suffix when `unit` is empty).
    static func tidepool(_ name: String, unit: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "tidepool", metricName: name, unitName: unit, helpText: help)
    }
}
