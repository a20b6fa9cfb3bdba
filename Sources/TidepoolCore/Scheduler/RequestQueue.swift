/// The one bounded FIFO in front of the instances: requests that found no
/// free slot wait here, oldest first.
///
/// Removal from the middle (a client that went away) is O(1): the entry is
/// forgotten and skipped when it reaches the head.
public struct RequestQueue: Equatable, Sendable {
    private var order: [RequestID] = []
    private var head = 0
    private var arrivals: [RequestID: Instant] = [:]

    public init() {}

    public var count: Int { arrivals.count }
    public var isEmpty: Bool { arrivals.isEmpty }

    public func contains(_ id: RequestID) -> Bool { arrivals[id] != nil }

    /// The oldest waiting request and when it arrived.
    public var first: (id: RequestID, arrivedAt: Instant)? {
        var i = head
        while i < order.count {
            if let at = arrivals[order[i]] { return (order[i], at) }
            i += 1
        }
        return nil
    }

    /// The queued requests, oldest first.
    public var ids: [RequestID] {
        order[head...].filter { arrivals[$0] != nil }
    }

    mutating func append(_ id: RequestID, arrivedAt: Instant) {
        order.append(id)
        arrivals[id] = arrivedAt
    }

    /// Takes the oldest waiting request out.
    mutating func popFirst() -> (id: RequestID, arrivedAt: Instant)? {
        while head < order.count {
            let id = order[head]
            head += 1
            if let at = arrivals.removeValue(forKey: id) {
                compactIfNeeded()
                return (id, at)
            }
        }
        compactIfNeeded()
        return nil
    }

    /// Removes a request wherever it waits; false if it was not queued.
    @discardableResult
    mutating func remove(_ id: RequestID) -> Bool {
        guard arrivals.removeValue(forKey: id) != nil else { return false }
        compactIfNeeded()
        return true
    }

    private mutating func compactIfNeeded() {
        if arrivals.isEmpty {
            order.removeAll(keepingCapacity: true)
            head = 0
        } else if head > 64 && head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
        // Cancelled ids can pile up behind the head under churn; rebuild then.
        if order.count - head > 64 && (order.count - head) > 2 * arrivals.count {
            order = order[head...].filter { arrivals[$0] != nil }
            head = 0
        }
    }
}
