import Testing
@testable import TidepoolCore

/// Feeds a scheduler events on a virtual clock and keeps every action it
/// returned, so a test reads as a scenario: "at t, this happened; expect that".
struct Driver {
    var scheduler: Scheduler
    var now: Instant = .zero
    /// Every action returned so far, in order.
    var log: [SchedulerAction] = []

    static let memory: UInt64 = 64 << 30

    init(_ configure: (inout SchedulerConfig) -> Void = { _ in }) throws {
        var config = SchedulerConfig()
        configure(&config)
        scheduler = try Scheduler(config: config, machineMemoryBytes: Self.memory)
    }

    var config: SchedulerConfig { scheduler.config }

    @discardableResult
    mutating func send(_ event: SchedulerEvent) -> [SchedulerAction] {
        let actions = scheduler.handle(event)
        log += actions
        return actions
    }

    /// Moves the clock forward without an event.
    mutating func wait(_ duration: Duration) {
        now += duration
    }

    @discardableResult
    mutating func tick() -> [SchedulerAction] {
        send(.tick(now: now))
    }

    /// Ticks every `step` until `duration` has passed; returns all actions.
    @discardableResult
    mutating func advance(_ duration: Duration, tickEvery step: Duration = .milliseconds(500)) -> [SchedulerAction] {
        let end = now + duration
        var actions: [SchedulerAction] = []
        while now < end {
            now = min(end, now + step)
            actions += tick()
        }
        return actions
    }

    @discardableResult
    mutating func arrive(_ ids: UInt64...) -> [SchedulerAction] {
        ids.flatMap { send(.requestArrived(RequestID($0), now: now)) }
    }

    @discardableResult
    mutating func arrive(_ ids: ClosedRange<UInt64>) -> [SchedulerAction] {
        ids.flatMap { send(.requestArrived(RequestID($0), now: now)) }
    }

    @discardableResult
    mutating func finish(_ id: UInt64, cpu: Duration = .zero, wall: Duration? = nil) -> [SchedulerAction] {
        let rid = RequestID(id)
        let instance = scheduler.running[rid]?.instance ?? InstanceID(0)
        let wall = wall ?? (scheduler.running[rid].map { now - $0.dispatchedAt } ?? .zero)
        return send(.requestFinished(rid, instance: instance, cpu: cpu, wall: wall, now: now))
    }

    @discardableResult
    mutating func cancel(_ id: UInt64) -> [SchedulerAction] {
        send(.requestCancelled(RequestID(id), now: now))
    }

    @discardableResult
    mutating func ready(_ ids: Int...) -> [SchedulerAction] {
        ids.flatMap { send(.instanceReady(InstanceID($0), kind: .fork, startDuration: .milliseconds(3), now: now)) }
    }

    /// Every instance still starting answers ready, lowest id first.
    @discardableResult
    mutating func readyAllStarting() -> [SchedulerAction] {
        startingIDs.flatMap {
            send(.instanceReady($0, kind: .fork, startDuration: .milliseconds(3), now: now))
        }
    }

    @discardableResult
    mutating func died(_ id: Int) -> [SchedulerAction] {
        send(.instanceDied(InstanceID(id), now: now))
    }

    @discardableResult
    mutating func stats(_ id: Int, cpuTotal: Duration, rssBytes: UInt64 = 40 << 20) -> [SchedulerAction] {
        send(.instanceStats(InstanceID(id), rssBytes: rssBytes, cpuTotal: cpuTotal, now: now))
    }

    /// Starts the pool: the first tick starts `minInstances`, and each answers
    /// ready `stagger` after the previous one (so their ready times differ).
    mutating func boot(stagger: Duration = .zero) {
        tick()
        for id in startingIDs {
            now += stagger
            send(.instanceReady(id, kind: .fork, startDuration: .milliseconds(3), now: now))
        }
    }

    var startingIDs: [InstanceID] {
        scheduler.instances.values.filter(\.isStarting).map(\.id).sorted()
    }

    var servingIDs: [InstanceID] {
        scheduler.instances.values.filter(\.isServing).map(\.id).sorted()
    }

    func instance(of request: UInt64) -> InstanceID? {
        scheduler.running[RequestID(request)]?.instance
    }

    func inFlight(_ instance: Int) -> Int {
        scheduler.instances[InstanceID(instance)]?.inFlight.count ?? 0
    }
}

extension Array where Element == SchedulerAction {
    var dispatches: [(request: RequestID, instance: InstanceID)] {
        compactMap { if case .dispatch(let r, let i) = $0 { (r, i) } else { nil } }
    }

    func dispatched(to instance: Int) -> [UInt64] {
        dispatches.filter { $0.instance == InstanceID(instance) }.map(\.request.rawValue)
    }

    var starts: [(instance: InstanceID, reason: ScaleReason)] {
        compactMap { if case .start(let i, let reason) = $0 { (i, reason) } else { nil } }
    }

    var drains: [(instance: InstanceID, reason: ScaleReason)] {
        compactMap { if case .drain(let i, let reason) = $0 { (i, reason) } else { nil } }
    }

    var stops: [InstanceID] {
        compactMap { if case .stop(let i) = $0 { i } else { nil } }
    }

    var kills: [InstanceID] {
        compactMap { if case .kill(let i) = $0 { i } else { nil } }
    }

    var rejects: [(request: RequestID, code: ErrorCode)] {
        compactMap { if case .reject(let r, let code) = $0 { (r, code) } else { nil } }
    }

    func rejected(_ code: ErrorCode) -> [UInt64] {
        rejects.filter { $0.code == code }.map(\.request.rawValue)
    }
}

func ids(_ values: Int...) -> [InstanceID] { values.map(InstanceID.init) }
