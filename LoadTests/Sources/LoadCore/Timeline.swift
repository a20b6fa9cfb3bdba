import Histogram

/// Latencies in microseconds, 1 µs … 1 h at 3 significant digits. Every
/// histogram in a run has this layout so they merge (`add`) exactly.
public typealias LatencyHistogram = Histogram<UInt64>

public func makeLatencyHistogram() -> LatencyHistogram {
    LatencyHistogram(lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: .three)
}

/// What the pool looked like at one poll of `/_tidepool/status` (and `/metrics`).
public struct PoolSample: Sendable, Equatable {
    public var instancesByState: [String: Int]
    public var inFlight: Int?
    public var queued: Int?
    /// Instances that appeared since the previous poll (new ids), or the metric's increase.
    public var coldStarts: Int

    public init(instancesByState: [String: Int], inFlight: Int?, queued: Int?, coldStarts: Int) {
        self.instancesByState = instancesByState
        self.inFlight = inFlight
        self.queued = queued
        self.coldStarts = coldStarts
    }

    public var instances: Int { instancesByState.values.reduce(0, +) }
}

/// One second of a run: what the generator did and what the pool looked like.
public struct TimelineRow: Codable, Sendable, Equatable {
    public var second: Int
    public var sent = 0
    public var completed = 0
    public var errors = 0
    public var errorsByCode: [String: Int] = [:]
    /// Sends more than 1 ms after their scheduled time (the generator fell behind).
    public var lateSends = 0
    /// Sends that waited for a free connection (all `connections` busy): the cap, not the clock.
    public var connectionWaits = 0
    public var p50Ms: Double?
    public var p99Ms: Double?
    /// Instances by state at this second's poll; nil when the poll failed or had no `instances`.
    public var instancesByState: [String: Int]?
    public var inFlight: Int?
    public var queued: Int?
    public var coldStarts = 0

    public init(second: Int) { self.second = second }

    public var instances: Int? { instancesByState.map { $0.values.reduce(0, +) } }
}

/// Accumulates sends, completions and polls into per-second rows and one
/// overall latency histogram (per-second histograms merged into it).
public struct TimelineRecorder: Sendable {
    public private(set) var rows: [TimelineRow] = []
    private var histograms: [LatencyHistogram] = []
    public private(set) var total = makeLatencyHistogram()
    public private(set) var maxLatenessSeconds = 0.0

    public init() {}

    private mutating func ensure(_ second: Int) {
        while rows.count <= second {
            rows.append(TimelineRow(second: rows.count))
            histograms.append(makeLatencyHistogram())
        }
    }

    private static func second(_ t: Double) -> Int { max(0, Int(t.rounded(.down))) }

    /// A request left at `time` (seconds since start), `lateness` after its schedule.
    /// `waitedForConnection` sends count apart: their delay is the connection cap, not the generator.
    public mutating func sent(at time: Double, lateness: Double, waitedForConnection: Bool = false) {
        let s = Self.second(time)
        ensure(s)
        rows[s].sent += 1
        if waitedForConnection {
            rows[s].connectionWaits += 1
            return
        }
        if lateness > 0.001 { rows[s].lateSends += 1 }
        maxLatenessSeconds = max(maxLatenessSeconds, lateness)
    }

    /// A request finished at `time`; latency is from its scheduled send. `error` is nil for a 2xx/3xx
    /// answer, else the `x-tidepool-error` code, the HTTP status, or a transport failure name.
    /// Only successful answers enter the latency histograms: fast rejections (429 while the queue
    /// is full) would otherwise pull the percentiles down exactly when the host is overloaded.
    public mutating func completed(at time: Double, latencySeconds: Double, error: String?) {
        let s = Self.second(time)
        ensure(s)
        if let error {
            rows[s].errors += 1
            rows[s].errorsByCode[error, default: 0] += 1
            return
        }
        rows[s].completed += 1
        let micros = UInt64(max(1, min(latencySeconds * 1_000_000, 3_599_000_000)))
        _ = histograms[s].record(micros)
    }

    public mutating func polled(at time: Double, _ sample: PoolSample) {
        let s = Self.second(time)
        ensure(s)
        rows[s].instancesByState = sample.instancesByState
        rows[s].inFlight = sample.inFlight
        rows[s].queued = sample.queued
        rows[s].coldStarts += sample.coldStarts
    }

    /// Fills the per-second percentiles and merges every second into `total`.
    public mutating func finish() {
        total = makeLatencyHistogram()
        for index in rows.indices {
            let h = histograms[index]
            if h.totalCount > 0 {
                rows[index].p50Ms = Double(h.valueAtPercentile(50)) / 1000
                rows[index].p99Ms = Double(h.valueAtPercentile(99)) / 1000
            }
            total.add(h)
        }
    }
}
