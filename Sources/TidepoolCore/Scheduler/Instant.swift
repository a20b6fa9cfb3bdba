/// A point on the scheduler's clock: nanoseconds since an arbitrary origin.
///
/// The scheduler never reads a clock itself. Every event carries the time it
/// happened, so the same code runs the real host (fed from a monotonic clock)
/// and a simulation or test (fed from a virtual one). Only differences between
/// instants matter; the origin is whatever the caller chose.
public struct Instant: Comparable, Hashable, Sendable, CustomStringConvertible {
    /// Nanoseconds since the caller's origin.
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) {
        self.nanoseconds = nanoseconds
    }

    /// The origin of a virtual clock; handy for tests and simulations.
    public static let zero = Instant(nanoseconds: 0)

    public static func < (lhs: Instant, rhs: Instant) -> Bool {
        lhs.nanoseconds < rhs.nanoseconds
    }

    public static func + (lhs: Instant, rhs: Duration) -> Instant {
        Instant(nanoseconds: lhs.nanoseconds &+ rhs.inNanoseconds)
    }

    public static func - (lhs: Instant, rhs: Duration) -> Instant {
        Instant(nanoseconds: lhs.nanoseconds &- rhs.inNanoseconds)
    }

    /// The time elapsed from `rhs` to `lhs` (negative when `lhs` is earlier).
    public static func - (lhs: Instant, rhs: Instant) -> Duration {
        .nanoseconds(lhs.nanoseconds &- rhs.nanoseconds)
    }

    public static func += (lhs: inout Instant, rhs: Duration) {
        lhs = lhs + rhs
    }

    public var description: String {
        "\(Double(nanoseconds) / 1e9)s"
    }
}

extension Duration {
    /// Whole nanoseconds (sub-nanosecond parts are dropped). The scheduler
    /// works in nanoseconds because the wire protocol reports times that way.
    /// From `attoseconds`: one 128-bit division, where `components` took
    /// two (~190 instructions, per request on the scheduler's finish path).
    public var inNanoseconds: Int64 {
        Int64(truncatingIfNeeded: attoseconds / 1_000_000_000)
    }

    /// The duration in (fractional) seconds, for averages and rates.
    var inSeconds: Double {
        Double(inNanoseconds) / 1e9
    }
}
