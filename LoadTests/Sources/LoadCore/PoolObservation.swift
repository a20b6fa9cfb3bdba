import Foundation

/// Reads `/_tidepool/status` JSON tolerantly: only `instances[].id/state`,
/// `inFlight`, `queued` and whether a `scheduler` key exists are used; missing
/// or extra fields are fine (the status grows as the host grows).
public struct StatusDocument: Sendable, Equatable {
    public var instances: [(id: String, state: String)]
    public var inFlight: Int?
    public var queued: Int?
    /// The host runs the Fluid scheduler (status has a `scheduler` key).
    public var hasScheduler: Bool
    /// `minInstances` from the scheduler snapshot or the configuration, when the host reports it.
    public var minInstances: Int?

    public static func == (a: Self, b: Self) -> Bool {
        a.instances.map(\.id) == b.instances.map(\.id) && a.instances.map(\.state) == b.instances.map(\.state)
            && a.inFlight == b.inFlight && a.queued == b.queued && a.hasScheduler == b.hasScheduler
            && a.minInstances == b.minInstances
    }

    public init?(json: Data) {
        guard let object = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else { return nil }
        let list = object["instances"] as? [[String: Any]] ?? []
        instances = list.compactMap { item in
            guard let id = item["id"].flatMap(Self.text) else { return nil }
            return (id, (item["state"] as? String) ?? "unknown")
        }
        inFlight = Self.int(object["inFlight"])
        queued = Self.int(object["queued"])
        let scheduler = object["scheduler"] as? [String: Any]
        hasScheduler = object["scheduler"] != nil && !(object["scheduler"] is NSNull)
        let configuration = object["configuration"] as? [String: Any]
        minInstances = Self.int(scheduler?["minInstances"]) ?? Self.int(configuration?["minInstances"])
    }

    private static func text(_ value: Any) -> String? {
        if let s = value as? String { return s }
        if let n = value as? NSNumber { return n.stringValue }
        return nil
    }

    private static func int(_ value: Any?) -> Int? { (value as? NSNumber)?.intValue }
}

/// The few counters the report uses from `/_tidepool/metrics` (Prometheus
/// text), matched by name fragment so exact names can evolve: cold starts,
/// active CPU seconds, provisioned memory GB-seconds. Nil when absent.
public struct MetricsDocument: Sendable, Equatable {
    public var coldStarts: Double?
    public var activeCPUSeconds: Double?
    public var gbSeconds: Double?

    public init(coldStarts: Double? = nil, activeCPUSeconds: Double? = nil, gbSeconds: Double? = nil) {
        self.coldStarts = coldStarts
        self.activeCPUSeconds = activeCPUSeconds
        self.gbSeconds = gbSeconds
    }

    public init(prometheus text: String) {
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count >= 2, let value = Double(parts[1]) else { continue }
            let name = parts[0].split(separator: "{").first.map(String.init) ?? ""
            // Histogram series (_bucket/_sum/_count) of durations are not counters of events.
            if name.hasSuffix("_bucket") || name.hasSuffix("_sum") || name.hasSuffix("_count") { continue }
            // The names Tidepool's /_tidepool/metrics exposes (README "Reading the metrics").
            switch name {
            case "tidepool_cold_starts_total": coldStarts = (coldStarts ?? 0) + value
            case "tidepool_active_cpu_seconds_total": activeCPUSeconds = (activeCPUSeconds ?? 0) + value
            case "tidepool_provisioned_memory_gigabyte_seconds_total": gbSeconds = (gbSeconds ?? 0) + value
            default: break
            }
        }
    }
}

/// Turns successive polls into `PoolSample`s: counts cold starts as new
/// instance ids (ids seen at the first poll are the pool the run started with),
/// or as the increase of the metrics' cold-start counter when there is one.
public struct PoolObserver: Sendable {
    private var seen: Set<String> = []
    private var first = true
    private var lastColdStartMetric: Double?
    public private(set) var firstMetrics: MetricsDocument?
    public private(set) var lastMetrics: MetricsDocument?
    public private(set) var hasScheduler = false
    public private(set) var minInstances: Int?

    public init() {}

    public mutating func observe(_ status: StatusDocument, metrics: MetricsDocument?) -> PoolSample {
        var byState: [String: Int] = [:]
        var newIds = 0
        for instance in status.instances {
            byState[instance.state, default: 0] += 1
            if seen.insert(instance.id).inserted, !first { newIds += 1 }
        }
        var coldStarts = newIds
        if let metric = metrics?.coldStarts {
            coldStarts = lastColdStartMetric.map { max(0, Int((metric - $0).rounded())) } ?? 0
            lastColdStartMetric = metric
        }
        if let metrics {
            if firstMetrics == nil { firstMetrics = metrics }
            lastMetrics = metrics
        }
        first = false
        hasScheduler = hasScheduler || status.hasScheduler
        minInstances = status.minInstances ?? minInstances
        return PoolSample(instancesByState: byState, inFlight: status.inFlight, queued: status.queued, coldStarts: coldStarts)
    }

    /// Increase of a metric over the run, nil when the host does not export it.
    public func increase(_ metric: KeyPath<MetricsDocument, Double?>) -> Double? {
        guard let a = firstMetrics?[keyPath: metric], let b = lastMetrics?[keyPath: metric] else { return nil }
        return b - a
    }
}
