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
}
