/// How busy one instance's interpreter is: its active-CPU share of one core
/// over a short window.
///
/// Python runs one thread at a time (the GIL), so an instance whose process
/// uses ~100 % of a core gains nothing from more concurrent requests: they only
/// wait for the GIL and raise everyone's latency. The scheduler stops placing
/// on a saturated instance and scales out instead; that is what makes
/// CPU-bound apps spread and I/O-bound apps pack.
///
/// Two sources, the higher share wins (either one seeing a saturated
/// interpreter is enough):
/// - `stats` frames: the process's CPU total; the share is the CPU used
///   between the oldest sample still in the window and the newest, divided by
///   the wall time between them. Exact, and live even while a long request runs.
/// - finished requests: each request's CPU spread over its wall time. Works
///   without stats, but only sees requests once they are done.
public struct CPUSaturation: Equatable, Sendable {
    public let window: Duration
    private var fromRequests: SlidingWindow
    /// Stats samples (time, process CPU total), oldest first; the oldest is
    /// the last one at or before the window's start, so the window is spanned.
    private var samples: [Sample] = []

    private struct Sample: Equatable, Sendable {
        var at: Instant
        var cpu: Duration
    }

    public init(window: Duration, since origin: Instant) {
        self.window = window
        fromRequests = SlidingWindow(length: window, origin: origin, bucketCount: 20)
    }

    /// A request finished on this instance having used `cpu` over `wall`.
    public mutating func recordRequest(cpu: Duration, wall: Duration, finishedAt now: Instant) {
        fromRequests.add(cpu.seconds, from: now - wall, to: now)
    }

    /// A stats frame reported the process's total CPU time.
    public mutating func recordStats(cpuTotal: Duration, at now: Instant) {
        if let last = samples.last, now <= last.at {
            samples[samples.count - 1] = Sample(at: now, cpu: cpuTotal)
        } else {
            samples.append(Sample(at: now, cpu: cpuTotal))
        }
        let windowStart = now - window
        while samples.count > 2, samples[1].at <= windowStart {
            samples.removeFirst()
        }
    }

    /// The share of one core used over the window ending at `now`: 0 when
    /// nothing is known, about 1 for a pegged interpreter.
    public func share(at now: Instant) -> Double {
        max(statsShare(at: now) ?? 0, fromRequests.average(at: now))
    }

    private func statsShare(at now: Instant) -> Double? {
        // Stats older than the window say nothing about now.
        guard samples.count >= 2, let newest = samples.last, newest.at > now - window else { return nil }
        let oldest = samples[0]
        let wall = (newest.at - oldest.at).seconds
        guard wall > 0 else { return nil }
        return max(0, (newest.cpu - oldest.cpu).seconds / wall)
    }
}
