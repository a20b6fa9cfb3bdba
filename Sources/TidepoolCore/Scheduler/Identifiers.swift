/// Names one instance process. The scheduler hands these out itself when it
/// asks for a start, so the executor never invents one: it keys its process
/// table by the id it was given in `SchedulerAction.start`.
public struct InstanceID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: Int

    public init(_ rawValue: Int) {
        self.rawValue = rawValue
    }

    public static func < (lhs: InstanceID, rhs: InstanceID) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    public var description: String { "i\(rawValue)" }

    /// See `IDHashing`: the scheduler's tables hash these on every event.
    public func _rawHashValue(seed: Int) -> Int { IDHashing.mix(UInt64(bitPattern: Int64(rawValue)), seed: seed) }
}

/// Names one client request for its whole life in the host. The executor
/// chooses it (unique among live requests) and uses it in every event.
public struct RequestID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64

    public init(_ rawValue: UInt64) {
        self.rawValue = rawValue
    }

    public static func < (lhs: RequestID, rhs: RequestID) -> Bool {
        lhs.rawValue < rhs.rawValue
    }

    public var description: String { "r\(rawValue)" }

    /// See `IDHashing`: the scheduler's tables hash these on every event.
    public func _rawHashValue(seed: Int) -> Int { IDHashing.mix(rawValue, seed: seed) }
}

/// How the ids the host hands out itself are hashed in Swift's dictionaries
/// and sets: a multiply and a shift instead of SipHash. SipHash guards
/// against keys an attacker picks to collide; these ids are counters the
/// host chooses, so nobody outside can pick them, and SipHash was about 8 %
/// of the host's instructions per proxied request (two to three thousand,
/// for the dozen lookups of a request's life). Overrides Hashable's
/// `_rawHashValue(seed:)`, the one hook Dictionary and Set use; `==` and
/// `hash(into:)` stay synthesized, so they agree with it.
public enum IDHashing {
    /// Fibonacci hashing: the product's high bits depend on every bit of
    /// `value`, and consecutive ids land far apart; the table's own seed
    /// still varies the layout from table to table.
    @inline(__always)
    public static func mix(_ value: UInt64, seed: Int) -> Int {
        let product = (value ^ UInt64(bitPattern: Int64(seed))) &* 0x9E37_79B9_7F4A_7C15
        return Int(bitPattern: UInt(truncatingIfNeeded: product ^ (product >> 29)))
    }
}
