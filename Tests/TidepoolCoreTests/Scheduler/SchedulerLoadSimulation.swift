import Testing
@testable import TidepoolCore

extension SplitMix64 {
    /// A duration uniformly in `range` (millisecond resolution).
    mutating func duration(in range: ClosedRange<Duration>) -> Duration {
        let low = range.lowerBound.inNanoseconds / 1_000_000
        let high = range.upperBound.inNanoseconds / 1_000_000
        guard high > low else { return range.lowerBound }
        return .milliseconds(low + Int64(next() % UInt64(high - low + 1)))
    }
}

/// A minimal executor plus closed-loop clients on a virtual clock: each client
/// sends a request, waits for its answer, thinks, and sends the next. Started
/// instances answer ready after `startLatency`; dispatched requests finish
/// after a random service time. It checks the executor-side invariants the
/// scheduler promises (never stop an instance with work on it) and counts
/// what the pool did.
struct LoadSimulation {
    var driver: Driver
    var startLatency: Duration = .milliseconds(50)
    var tickEvery: Duration = .milliseconds(250)
    var serviceTime: ClosedRange<Duration> = .milliseconds(400) ... .milliseconds(600)
    var thinkTime: ClosedRange<Duration> = .zero ... .milliseconds(100)
    /// CPU-bound requests: the service time is all CPU, and the requests on
    /// one instance share its one interpreter (the GIL) equally (processor
    /// sharing), so n of them each run n times slower. Instances report their
    /// process CPU in a stats frame on every tick, as the real ones do.
    var cpuBound = false
    var rng = SplitMix64(state: 42)

    /// Broken promises seen by the executor; a test expects none.
    var violations: [String] = []
    /// Every action with the time it was returned.
    var timedActions: [(at: Instant, action: SchedulerAction)] = []
    /// Instance-seconds provisioned (any state), Fluid's memory meter.
    var instanceSeconds = 0.0
    var peakInstances = 0
    var completed = 0

    private enum Pending {
        case ready(InstanceID)
        case finish(RequestID, cpu: Duration, wall: Duration)
        case client(Int)
        case tick
    }

    private var timeline: [(at: Instant, seq: Int, what: Pending)] = []
    private var seq = 0
    private var nextRequest: UInt64 = 1
    private var clientOf: [RequestID: Int] = [:]
    private var answered: Set<RequestID> = []
    private var executorInFlight: [InstanceID: Set<RequestID>] = [:]
    private var activeClients = 0
    /// CPU-bound mode: seconds of CPU work left per request, per instance.
    private var remainingWork: [InstanceID: [RequestID: Double]] = [:]
    private var dispatchedAt: [RequestID: Instant] = [:]
    private var workOf: [RequestID: Duration] = [:]
    private var cpuTotal: [InstanceID: Double] = [:]

    init(driver: Driver) {
        self.driver = driver
    }

    var now: Instant { driver.now }

    /// Runs `clients` closed-loop clients until `end`; clients beyond the
    /// new count stop after their current request.
    mutating func run(clients: Int, until end: Instant) {
        if timeline.isEmpty { schedule(.tick, at: now) }
        for c in activeClients..<max(activeClients, clients) { schedule(.client(c), at: now) }
        activeClients = clients
        while true {
            // The next thing to happen: a timeline entry or a CPU-bound completion.
            if let done = nextCompletion(), done.at <= end, done.at < (timeline.first?.at ?? end + .seconds(1)) {
                advanceClock(to: done.at)
                complete(done.request, on: done.instance)
                continue
            }
            guard let first = timeline.first, first.at <= end else { break }
            timeline.removeFirst()
            advanceClock(to: first.at)
            switch first.what {
            case .tick:
                apply(driver.tick())
                if cpuBound {
                    for (instance, total) in cpuTotal.sorted(by: { $0.key < $1.key }) {
                        apply(driver.stats(instance.rawValue, cpuTotal: .nanoseconds(Int64(total * 1e9))))
                    }
                }
                schedule(.tick, at: now + tickEvery)
            case .ready(let id):
                apply(driver.send(.instanceReady(id, kind: .fork, startDuration: startLatency, now: now)))
            case .finish(let request, let cpu, let wall):
                for instance in executorInFlight.keys { executorInFlight[instance]?.remove(request) }
                apply(driver.send(.requestFinished(
                    request, instance: InstanceID(0), cpu: cpu, wall: wall, now: now)))
                answer(request)
            case .client(let c):
                guard c < activeClients else { continue }
                let request = RequestID(nextRequest)
                nextRequest += 1
                clientOf[request] = c
                apply(driver.send(.requestArrived(request, now: now)))
            }
        }
        advanceClock(to: end)
    }

    /// Actions of one kind returned at or after `start`.
    func actions(since start: Instant) -> [SchedulerAction] {
        timedActions.filter { $0.at >= start }.map(\.action)
    }

    private func nextCompletion() -> (at: Instant, instance: InstanceID, request: RequestID)? {
        var best: (at: Instant, instance: InstanceID, request: RequestID)?
        for (instance, work) in remainingWork where !work.isEmpty {
            guard let (request, left) = work.min(by: { ($0.value, $0.key) < ($1.value, $1.key) }) else { continue }
            let at = now + .nanoseconds(Int64((left * Double(work.count) * 1e9).rounded(.up)))
            if best == nil || at < best!.at { best = (at, instance, request) }
        }
        return best
    }

    private mutating func complete(_ request: RequestID, on instance: InstanceID) {
        remainingWork[instance]?[request] = nil
        executorInFlight[instance]?.remove(request)
        let wall = now - (dispatchedAt.removeValue(forKey: request) ?? now)
        let cpu = workOf.removeValue(forKey: request) ?? .zero
        apply(driver.send(.requestFinished(request, instance: instance, cpu: cpu, wall: wall, now: now)))
        answer(request)
    }

    private mutating func advanceClock(to t: Instant) {
        guard t > driver.now else { return }
        let dt = (t - driver.now).inSeconds
        for (instance, work) in remainingWork where !work.isEmpty {
            cpuTotal[instance, default: 0] += dt
            for request in work.keys { remainingWork[instance]?[request]! -= dt / Double(work.count) }
        }
        instanceSeconds += Double(driver.scheduler.instances.count) * (t - driver.now).inSeconds
        driver.now = t
    }

    private mutating func answer(_ request: RequestID) {
        guard answered.insert(request).inserted, let c = clientOf[request] else { return }
        completed += 1
        schedule(.client(c), at: now + rng.duration(in: thinkTime))
    }

    private mutating func apply(_ actions: [SchedulerAction]) {
        for action in actions {
            timedActions.append((now, action))
            switch action {
            case .dispatch(let request, let instance):
                executorInFlight[instance, default: []].insert(request)
                let work = rng.duration(in: serviceTime)
                if cpuBound {
                    remainingWork[instance, default: [:]][request] = work.inSeconds
                    dispatchedAt[request] = now
                    workOf[request] = work
                } else {
                    schedule(.finish(request, cpu: .zero, wall: work), at: now + work)
                }
            case .start(let instance, _):
                schedule(.ready(instance), at: now + startLatency)
            case .stop(let instance):
                if let work = executorInFlight[instance], !work.isEmpty {
                    violations.append("stopped \(instance) with \(work.count) requests in flight at \(now)")
                }
                executorInFlight[instance] = nil
                remainingWork[instance] = nil
            case .kill(let instance):
                executorInFlight[instance] = nil
                remainingWork[instance] = nil
            case .drain:
                break
            case .reject(let request, _):
                answer(request)
            case .failRequests(let requests, _):
                requests.forEach { answer($0) }
            }
        }
        peakInstances = max(peakInstances, driver.scheduler.instances.count)
    }

    private mutating func schedule(_ what: Pending, at t: Instant) {
        seq += 1
        let entry = (at: t, seq: seq, what: what)
        // Keep the timeline sorted by time, then insertion order.
        var low = 0
        var high = timeline.count
        while low < high {
            let mid = (low + high) / 2
            if (timeline[mid].at, timeline[mid].seq) < (t, seq) { low = mid + 1 } else { high = mid }
        }
        timeline.insert(entry, at: low)
    }
}
