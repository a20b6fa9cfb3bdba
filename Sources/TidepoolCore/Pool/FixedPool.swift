/// Placement for a pool of a fixed number of instances, as a pure state machine.
///
/// The host feeds it events (an instance became ready or died, a request
/// arrived or finished) and executes the actions it returns; it never does IO
/// itself. That keeps every placement rule unit-testable without processes,
/// and lets the autoscaler replace it later behind the same event/action shape
/// (DESIGN.md section 5, modelled on Hummingbird's connection state handler).
///
/// Placement: among ready instances with a free slot, the one with the fewest
/// requests in flight (ties: lowest id) — spreading keeps each instance's GIL
/// least contended while the pool cannot grow. When no slot is free the request
/// waits in a bounded FIFO, drained as slots free or instances become ready; a
/// full queue rejects with 503 `FUNCTION_THROTTLED`.
public struct FixedPool: Sendable {
    public typealias InstanceID = UInt32
    public typealias RequestID = UInt32

    public enum InstanceState: String, Sendable, Equatable {
        /// Decided on, not ready yet: holds no requests.
        case starting
        /// Serving: takes requests up to its slot count.
        case ready
        /// The host is stopping: it still finishes in-flight and queued work,
        /// but is not replaced when it dies.
        case draining
    }

    public struct Instance: Sendable, Equatable {
        public let id: InstanceID
        public var state: InstanceState
        public var inFlight: Int
        /// Requests it runs at once (its handler threads).
        public var slots: Int
        public var hasFreeSlot: Bool { state != .starting && inFlight < slots }
    }

    /// What the host must do next, in order.
    public enum Action: Sendable, Equatable {
        /// Start a new instance process with this id.
        case startInstance(InstanceID)
        /// Send the request to the instance (its slot is already counted as taken).
        case dispatch(RequestID, to: InstanceID)
        /// The request waits in the queue; a later event dispatches it.
        case enqueue(RequestID)
        /// Answer the request with this error now.
        case reject(RequestID, ErrorCode)
    }

    /// How many instances the pool keeps.
    public let size: Int
    /// Slots of an instance until its ready message says otherwise.
    public let slotsPerInstance: Int
    /// Longest queue before requests are rejected.
    public let queueCapacity: Int
    /// Instances by ascending id (small, so a sorted array beats a dictionary).
    public private(set) var instances: [Instance] = []
    /// True once `stop()` was called: nothing new starts.
    public private(set) var isStopping = false
    private var queue = FIFO<RequestID>()
    private var nextInstanceID: InstanceID = 1

    public init(size: Int, slotsPerInstance: Int, queueCapacity: Int = 1024) {
        precondition(size > 0 && slotsPerInstance > 0 && queueCapacity >= 0)
        self.size = size
        self.slotsPerInstance = slotsPerInstance
        self.queueCapacity = queueCapacity
    }

    public var queuedCount: Int { queue.count }
    /// Instances that take requests (ready or draining).
    public var readyCount: Int { instances.filter { $0.state != .starting }.count }
    public var inFlightCount: Int { instances.reduce(0) { $0 + $1.inFlight } }
    /// True when nothing is running or waiting: a stopping host may exit.
    public var isIdle: Bool { queue.isEmpty && inFlightCount == 0 }

    public func instance(_ id: InstanceID) -> Instance? {
        index(of: id).map { instances[$0] }
    }

    /// Starts the pool: one `startInstance` per instance it should hold.
    public mutating func start() -> [Action] {
        var actions: [Action] = []
        while instances.count < size, !isStopping {
            actions.append(.startInstance(addInstance()))
        }
        return actions
    }

    /// The instance answered `ready`; `slots` is its handler thread count when it reported one.
    public mutating func instanceReady(_ id: InstanceID, slots: Int? = nil) -> [Action] {
        guard let i = index(of: id), instances[i].state == .starting else { return [] }
        instances[i].state = isStopping ? .draining : .ready
        if let slots, slots > 0 { instances[i].slots = slots }
        return drainQueue()
    }

    /// The instance's process or channel is gone. Its in-flight requests are the
    /// host's to fail; this forgets them and starts a replacement unless stopping.
    public mutating func instanceDied(_ id: InstanceID) -> [Action] {
        guard let i = index(of: id) else { return [] }
        instances.remove(at: i)
        return start()
    }

    /// A request for the app arrived.
    public mutating func requestArrived(_ request: RequestID) -> [Action] {
        if queue.isEmpty, let target = placement() {
            take(slotOn: target)
            return [.dispatch(request, to: instances[target].id)]
        }
        guard queue.count < queueCapacity else { return [.reject(request, .throttled)] }
        queue.append(request)
        return [.enqueue(request)]
    }

    /// A dispatched request got its whole answer (or was failed): its slot frees.
    public mutating func requestFinished(_ request: RequestID, on id: InstanceID) -> [Action] {
        guard let i = index(of: id), instances[i].inFlight > 0 else { return [] }
        instances[i].inFlight -= 1
        return drainQueue()
    }

    /// A queued request went away before it was placed (e.g. shutdown gave up on it).
    /// Returns whether it was still queued.
    @discardableResult
    public mutating func requestCancelled(_ request: RequestID) -> Bool {
        queue.remove(request)
    }

    /// Shutdown: start nothing new and replace nothing. Queued and in-flight
    /// requests still finish on the instances that are up.
    public mutating func stop() {
        isStopping = true
        for i in instances.indices where instances[i].state == .ready {
            instances[i].state = .draining
        }
    }

    // MARK: - Internals

    private func index(of id: InstanceID) -> Int? {
        instances.firstIndex { $0.id == id }
    }

    private mutating func addInstance() -> InstanceID {
        let id = nextInstanceID
        nextInstanceID &+= 1
        instances.append(Instance(id: id, state: .starting, inFlight: 0, slots: slotsPerInstance))
        return id
    }

    /// The index of the ready instance with a free slot and the fewest in flight (ties: lowest id).
    private func placement() -> Int? {
        var best: Int?
        for (i, instance) in instances.enumerated() where instance.hasFreeSlot {
            if let b = best, instances[b].inFlight <= instance.inFlight { continue }
            best = i
        }
        return best
    }

    private mutating func take(slotOn index: Int) {
        instances[index].inFlight += 1
    }

    private mutating func drainQueue() -> [Action] {
        var actions: [Action] = []
        while !queue.isEmpty, let target = placement() {
            let request = queue.removeFirst()
            take(slotOn: target)
            actions.append(.dispatch(request, to: instances[target].id))
        }
        return actions
    }
}

/// A first-in first-out queue with O(1) amortised append and removal at the front.
struct FIFO<Element: Equatable & Sendable>: Sendable {
    private var storage: [Element] = []
    private var head = 0

    var count: Int { storage.count - head }
    var isEmpty: Bool { count == 0 }

    mutating func append(_ element: Element) {
        storage.append(element)
    }

    mutating func removeFirst() -> Element {
        let element = storage[head]
        head += 1
        if head > 64, head * 2 > storage.count {
            storage.removeFirst(head)
            head = 0
        }
        return element
    }

    /// Removes the first occurrence of `element`; returns whether it was there.
    mutating func remove(_ element: Element) -> Bool {
        guard let i = storage[head...].firstIndex(of: element) else { return false }
        storage.remove(at: i)
        return true
    }
}
