/// A dictionary keyed by the host's wire ids (request and instance numbers
/// on the channel), hashed by `IDHashing` instead of SipHash: the host looks
/// a request up in these tables on each of its frames. Only what the host
/// uses of Dictionary's API is here.
public struct WireIDTable<Value> {
    private var storage: [WireKey: Value] = [:]

    public init() {}

    public subscript(_ id: UInt32) -> Value? {
        get { storage[WireKey(id)] }
        _modify { yield &storage[WireKey(id)] }
        set { storage[WireKey(id)] = newValue }
    }

    @discardableResult
    public mutating func removeValue(forKey id: UInt32) -> Value? {
        storage.removeValue(forKey: WireKey(id))
    }

    public mutating func removeAll() { storage.removeAll() }

    public var values: Dictionary<WireKey, Value>.Values { storage.values }
    public var count: Int { storage.count }
    public var isEmpty: Bool { storage.isEmpty }
}

/// A set of wire ids, hashed as `WireIDTable`'s keys.
public struct WireIDSet: Sequence {
    private var storage: Set<WireKey> = []

    public init() {}

    /// True if `id` was not in the set.
    @discardableResult
    public mutating func insert(_ id: UInt32) -> Bool { storage.insert(WireKey(id)).inserted }

    @discardableResult
    public mutating func remove(_ id: UInt32) -> Bool { storage.remove(WireKey(id)) != nil }

    public func contains(_ id: UInt32) -> Bool { storage.contains(WireKey(id)) }

    public var count: Int { storage.count }
    public var isEmpty: Bool { storage.isEmpty }

    public func makeIterator() -> some IteratorProtocol<UInt32> { storage.lazy.map(\.id).makeIterator() }
}

/// The key of both: a wire id with `IDHashing`'s hash.
public struct WireKey: Hashable, Sendable {
    public let id: UInt32

    init(_ id: UInt32) { self.id = id }

    public func _rawHashValue(seed: Int) -> Int { IDHashing.mix(UInt64(id), seed: seed) }
}
