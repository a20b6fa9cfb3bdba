/// How busy one instance's interpreter is: its CPU time divided by the time it
/// had work in flight, over a short window (≈ 1 for a pegged interpreter).
///
/// Python runs one thread at a time (the GIL), so an instance whose process
/// uses ~100 % of a core while it works gains nothing from more concurrent
/// requests: they only wait for the GIL and raise everyone's latency. The
/// scheduler stops placing on a saturated instance and scales out instead;
/// that is what makes CPU-bound apps spread and I/O-bound apps pack.
///
/// Why divide by *busy* time and not by all wall time: an instance that works
/// in bursts (CPU-bound requests, then idle while clients think) would
/// otherwise look half-saturated and keep taking whole bursts onto one
/// interpreter. Busy time is exactly known to the scheduler (it knows what is
/// in flight); idle time says nothing about what more work would do.
///
/// Two CPU sources, the higher share wins (either one seeing a saturated
/// interpreter is enough):
/// - `stats` frames: the process's CPU total; the share is the CPU used
///   between the oldest sample still in the window and the newest, over the
///   busy time between them. Live even while a long request runs.
/// - finished requests: each request's CPU spread over its wall time, over
///   the busy time in the window. Works without stats, but only sees requests
///   once they are done.
public struct CPUSaturation: Equatable, Sendable {
    public let window: Duration
    /// `window` in whole nanoseconds, as `Instant - window` uses it: `share`
    /// runs several times per scheduler event, and converting a `Duration`
    /// is 128-bit arithmetic.
    private let windowNanos: Int64
    private var cpuFromRequests: SlidingWindow
    private var busy: SlidingWindow
    /// All busy time so far, so stats samples can be compared with it.
    public var busyTotal: Duration { .nanoseconds(busyTotalNanos) }
    private var busyTotalNanos: Int64 = 0
    /// Stats samples, oldest first; the oldest is the last one at or before
    /// the window's start, so the window is spanned.
    private var samples: [Sample] = []
    /// CPU and busy seconds between the oldest and the newest sample, computed
    /// when a sample is recorded rather than at every `share`.
    private var sampledSpan: SampledSpan?

    private struct SampledSpan: Equatable, Sendable {
        var cpuSeconds: Double
        var busySeconds: Double
    }

    /// Below this much busy time in the window a share is noise: report 0.
    /// 100 ms: a fresh instance's first request (lazy imports: tens of ms of
    /// CPU in as many of wall time) read as a pegged interpreter at 1 ms, and
    /// held a pinned instance until the window passed, serializing the
    /// concurrent requests behind it. A really saturated instance is busy
    /// all the time, so it crosses 100 ms within 100 ms of load.
    static let minimumBusy: Duration = .milliseconds(100)
    private static let minimumBusySeconds = minimumBusy.inSeconds

    private struct Sample: Equatable, Sendable {
        var at: Instant
        var cpu: Duration
        var busy: Duration
    }

    public init(window: Duration, since origin: Instant) {
        self.window = window
        windowNanos = window.inNanoseconds
        cpuFromRequests = SlidingWindow(length: window, origin: origin, bucketCount: 20)
        busy = SlidingWindow(length: window, origin: origin, bucketCount: 20)
    }

    /// The instance had work in flight from `start` to `end`.
    public mutating func recordBusy(from start: Instant, to end: Instant) {
        guard end > start else { return }
        let nanos = end.nanoseconds &- start.nanoseconds
        busy.add(Double(nanos) / 1e9, from: start, to: end)
        busyTotalNanos &+= nanos
    }

    /// A request finished on this instance having used `cpu` over `wall`.
    public mutating func recordRequest(cpu: Duration, wall: Duration, finishedAt now: Instant) {
        cpuFromRequests.add(cpu.inSeconds, from: now - wall, to: now)
    }

    /// A stats frame reported the process's total CPU time. Record the busy
    /// time up to `now` first.
    public mutating func recordStats(cpuTotal: Duration, at now: Instant) {
        let sample = Sample(at: now, cpu: cpuTotal, busy: busyTotal)
        if let last = samples.last, now <= last.at {
            samples[samples.count - 1] = sample
        } else {
            samples.append(sample)
        }
        let windowStart = now - window
        while samples.count > 2, samples[1].at <= windowStart {
            samples.removeFirst()
        }
        if samples.count >= 2, let newest = samples.last {
            let oldest = samples[0]
            sampledSpan = SampledSpan(
                cpuSeconds: (newest.cpu - oldest.cpu).inSeconds, busySeconds: (newest.busy - oldest.busy).inSeconds)
        } else {
            sampledSpan = nil
        }
    }

    /// The CPU share of the busy time in the window ending at `now`: 0 when
    /// nothing is known, about 1 for a pegged interpreter.
    public func share(at now: Instant) -> Double {
        max(statsShare(at: now) ?? 0, requestShare(at: now))
    }

    private func requestShare(at now: Instant) -> Double {
        let busySeconds = busy.sum(at: now)
        guard busySeconds >= Self.minimumBusySeconds else { return 0 }
        return cpuFromRequests.sum(at: now) / busySeconds
    }

    private func statsShare(at now: Instant) -> Double? {
        // Stats older than the window say nothing about now.
        guard let span = sampledSpan, let newest = samples.last,
              newest.at.nanoseconds > now.nanoseconds &- windowNanos else { return nil }
        guard span.busySeconds >= Self.minimumBusySeconds else { return nil }
        return max(0, span.cpuSeconds / span.busySeconds)
    }
}
