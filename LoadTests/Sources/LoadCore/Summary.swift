/// The whole run in numbers: what `summary.json` holds and the terminal table shows.
public struct Summary: Codable, Sendable, Equatable {
    public var scenario: String
    public var target: String
    public var startedAt: String
    public var durationSeconds: Double
    public var sent: Int
    public var completed: Int
    public var errors: Int
    public var errorsByCode: [String: Int]
    public var latencyMs: Latency
    /// Sends more than 1 ms late, and the worst lateness: the generator's own health.
    public var lateSends: Int
    public var maxLatenessMs: Double
    /// Sends that waited for a free connection because `connections` were all busy.
    public var connectionWaits: Int
    public var generatorCPUSeconds: Double
    public var peakInstances: Int?
    public var meanInstances: Double?
    /// Sum over polled seconds of the instances alive at that second.
    public var instanceSeconds: Double?
    public var coldStarts: Int
    /// From `/_tidepool/metrics` when the host exports them, else nil ("n/a").
    public var activeCPUSeconds: Double?
    public var gbSeconds: Double?
    public var scheduler: Bool
    public var minInstances: Int?
    /// Instances at the last poll.
    public var finalInstances: Int?

    public init(
        scenario: String, target: String, startedAt: String, durationSeconds: Double, sent: Int, completed: Int, errors: Int, errorsByCode: [String: Int], latencyMs: Latency, lateSends: Int, maxLatenessMs: Double, connectionWaits: Int, generatorCPUSeconds: Double, peakInstances: Int?, meanInstances: Double?, instanceSeconds: Double?, coldStarts: Int, activeCPUSeconds: Double?, gbSeconds: Double?, scheduler: Bool, minInstances: Int?, finalInstances: Int?
    ) {
        self.scenario = scenario
        self.target = target
        self.startedAt = startedAt
        self.durationSeconds = durationSeconds
        self.sent = sent
        self.completed = completed
        self.errors = errors
        self.errorsByCode = errorsByCode
        self.latencyMs = latencyMs
        self.lateSends = lateSends
        self.maxLatenessMs = maxLatenessMs
        self.connectionWaits = connectionWaits
        self.generatorCPUSeconds = generatorCPUSeconds
        self.peakInstances = peakInstances
        self.meanInstances = meanInstances
        self.instanceSeconds = instanceSeconds
        self.coldStarts = coldStarts
        self.activeCPUSeconds = activeCPUSeconds
        self.gbSeconds = gbSeconds
        self.scheduler = scheduler
        self.minInstances = minInstances
        self.finalInstances = finalInstances
    }

    public struct Latency: Codable, Sendable, Equatable {
        public var p50: Double
        public var p90: Double
        public var p99: Double
        public var p999: Double
        public var max: Double
        public init(p50: Double, p90: Double, p99: Double, p999: Double, max: Double) {
            self.p50 = p50
            self.p90 = p90
            self.p99 = p99
            self.p999 = p999
            self.max = max
        }

        public init(_ h: LatencyHistogram) {
            func ms(_ p: Double) -> Double { h.totalCount == 0 ? 0 : Double(h.valueAtPercentile(p)) / 1000 }
            self.init(p50: ms(50), p90: ms(90), p99: ms(99), p999: ms(99.9), max: h.totalCount == 0 ? 0 : Double(h.max) / 1000)
        }
    }

    /// Builds the pool figures from the finished timeline rows.
    public static func poolFigures(_ rows: [TimelineRow]) -> (peak: Int?, mean: Double?, seconds: Double?, final: Int?) {
        let counts = rows.compactMap(\.instances)
        guard !counts.isEmpty else { return (nil, nil, nil, nil) }
        let sum = Double(counts.reduce(0, +))
        return (counts.max(), sum / Double(counts.count), sum, counts.last)
    }
}
