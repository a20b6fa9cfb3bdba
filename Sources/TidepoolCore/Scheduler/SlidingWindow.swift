/// A sum of amounts over the last `length` of time, in fixed buckets.
///
/// Amounts are spread over the interval they belong to: a concurrency of 3
/// held for 2 s is the amount 6 (request-seconds) spread over those 2 s, and a
/// request that used 0.5 s of CPU during 1 s of wall time is 0.5 CPU-seconds
/// spread over that second. Dividing the sum by the time covered gives the
/// time-weighted average (concurrency) or the share (CPU).
///
/// The scheduler adds to four windows and reads two on every request's
/// arrival and finish, so both are O(1) while time stays within the newest
/// bucket: the window keeps the sum of its live buckets, recomputed from the
/// buckets (O(window ÷ bucket)) only when time enters a new bucket, so float
/// rounding never accumulates past one bucket's worth of additions.
///
/// The window covers between `length` and `length` + one bucket of the
/// past; that fuzz is the price of constant memory.
public struct SlidingWindow: Equatable, Sendable {
    /// How much of the past the window sums.
    public let length: Duration
    /// Nothing before this instant is counted (the window's "birth"), so a
    /// young window averages over the time it has seen, not over `length`.
    public let origin: Instant
    private let bucketNanos: Int64
    private var buckets: [Bucket]
    /// The newest bucket index written, and the sum of the buckets in the
    /// window that ends with it (`head - buckets.count + 1 ... head`).
    private var head = Int64.min
    private var headSum = 0.0

    private struct Bucket: Equatable, Sendable {
        var index: Int64
        var amount: Double
    }

    /// - Parameter bucketCount: resolution; the bucket width is `length ÷ bucketCount`.
    public init(length: Duration, origin: Instant, bucketCount: Int = 30) {
        self.length = length
        self.origin = origin
        let count = max(1, bucketCount)
        bucketNanos = max(1, length.inNanoseconds / Int64(count))
        // One extra bucket for the partially elapsed current one.
        buckets = Array(repeating: Bucket(index: .min, amount: 0), count: count + 1)
    }

    /// Adds `amount` spread evenly over `start..<end` (all at `end` when the
    /// interval is empty). Parts older than the window are dropped.
    public mutating func add(_ amount: Double, from start: Instant, to end: Instant) {
        guard amount != 0 else { return }
        let total = end.nanoseconds - start.nanoseconds
        let endIndex = index(of: end.nanoseconds)
        if endIndex > head { moveHead(to: endIndex) }
        if total <= 0 {
            addToBucket(endIndex, amount)
            return
        }
        // Only the last `buckets.count` buckets before `end` can still be read.
        let oldestKept = (endIndex - Int64(buckets.count) + 1) * bucketNanos
        var t = max(start.nanoseconds, oldestKept)
        while t < end.nanoseconds {
            let i = index(of: t)
            let segmentEnd = min(end.nanoseconds, (i + 1) * bucketNanos)
            addToBucket(i, amount * Double(segmentEnd - t) / Double(total))
            t = segmentEnd
        }
    }

    /// The amounts recorded in the window ending at `now`.
    public func sum(at now: Instant) -> Double {
        let newest = index(of: now.nanoseconds)
        return newest == head ? headSum : bucketSum(endingWith: newest)
    }

    /// The sum of the buckets in the window whose newest bucket is `newest`.
    func bucketSum(endingWith newest: Int64) -> Double {
        let oldest = newest - Int64(buckets.count) + 1
        var total = 0.0
        for bucket in buckets where bucket.index >= oldest && bucket.index <= newest {
            total += bucket.amount
        }
        return total
    }

    /// `sum(at:)` counted bucket by bucket, as if there were no kept sum.
    func recountedSum(at now: Instant) -> Double { bucketSum(endingWith: index(of: now.nanoseconds)) }

    /// The time the window ending at `now` covers: from the start of its oldest
    /// bucket (or the origin, if later) to `now`.
    public func covered(at now: Instant) -> Duration {
        .nanoseconds(coveredNanos(at: now))
    }

    private func coveredNanos(at now: Instant) -> Int64 {
        let oldest = (index(of: now.nanoseconds) - Int64(buckets.count) + 1) * bucketNanos
        return max(0, now.nanoseconds - max(oldest, origin.nanoseconds))
    }

    /// `sum ÷ covered seconds`: the time-weighted average of a rate whose
    /// amounts are per-second quantities (0 when no time is covered yet).
    /// In integer nanoseconds: the scheduler averages twice per event, and a
    /// `Duration` round trip is a 128-bit multiplication and division.
    public func average(at now: Instant) -> Double {
        let seconds = Double(coveredNanos(at: now)) / 1e9
        return seconds > 0 ? sum(at: now) / seconds : 0
    }

    private func index(of nanos: Int64) -> Int64 {
        // Floor division, so instants before the clock's origin work too.
        let q = nanos / bucketNanos
        return (nanos % bucketNanos < 0) ? q - 1 : q
    }

    /// Makes `newest` the head bucket: its window's sum, from the buckets.
    private mutating func moveHead(to newest: Int64) {
        head = newest
        headSum = bucketSum(endingWith: newest)
    }

    /// Adds to bucket `index`, at most `head` (`add` moved the head first).
    private mutating func addToBucket(_ index: Int64, _ amount: Double) {
        let count = Int64(buckets.count)
        guard index > head - count else { return } // older than the window
        let slot = Int(((index % count) + count) % count)
        if buckets[slot].index != index {
            buckets[slot] = Bucket(index: index, amount: 0)  // a bucket that left the window
        }
        buckets[slot].amount += amount
        headSum += amount
    }
}
