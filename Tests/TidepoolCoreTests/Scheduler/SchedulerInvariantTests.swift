import Testing
@testable import TidepoolCore

/// Random event sequences, checked after every call against the promises an
/// executor relies on. Each seed is one reproducible scenario.
@Suite struct SchedulerInvariantTests {
    @Test(arguments: 1...12 as ClosedRange<UInt64>)
    func randomEventsKeepThePromises(seed: UInt64) throws {
        var rng = SplitMix64(state: seed)
        var d = try Driver {
            $0.mode = seed % 3 == 0 ? .classic : .fluid
            $0.minInstances = Int(seed % 3)
            $0.maxInstances = 6
            $0.maxConcurrency = 4
            $0.queueDepth = 10
            $0.queueTimeout = .seconds(3)
            $0.maxDuration = .seconds(8)
            $0.stuckGrace = .seconds(2)
            $0.idleTimeout = .seconds(2)
            $0.stableWindow = .seconds(10)
            $0.panicWindow = .seconds(2)
            $0.maxStartsInFlight = 2
        }
        let config = d.config

        // The executor's view, rebuilt only from actions.
        var onInstance: [RequestID: InstanceID] = [:]
        var waiting: Set<RequestID> = []
        var answered: Set<RequestID> = []
        /// Running requests whose client left: nobody to answer any more.
        var gone: Set<RequestID> = []
        var alive: Set<InstanceID> = []
        var starting: Set<InstanceID> = []
        var ready: Set<InstanceID> = []
        var draining: Set<InstanceID> = []
        var cpuTotals: [InstanceID: Duration] = [:]
        var nextRequest: UInt64 = 1

        func check(_ actions: [SchedulerAction], _ event: String) {
            for action in actions {
                switch action {
                case .dispatch(let r, let i):
                    #expect(ready.contains(i) && !draining.contains(i), "\(event): dispatch to \(i) not serving")
                    #expect(waiting.remove(r) != nil, "\(event): dispatch of \(r) that was not waiting")
                    onInstance[r] = i
                case .start(let i, _):
                    #expect(!alive.contains(i), "\(event): id \(i) reused")
                    alive.insert(i)
                    starting.insert(i)
                case .drain(let i, _):
                    #expect(ready.contains(i), "\(event): drain of \(i) not ready")
                    draining.insert(i)
                case .stop(let i):
                    #expect(draining.contains(i), "\(event): stop of \(i) without drain")
                    #expect(!onInstance.values.contains(i), "\(event): stop of \(i) with work in flight")
                    alive.remove(i); ready.remove(i); draining.remove(i)
                case .kill(let i):
                    #expect(draining.contains(i), "\(event): kill of \(i) without drain")
                    for (r, host) in onInstance where host == i {
                        #expect(answered.contains(r) || gone.contains(r), "\(event): kill of \(i) with unanswered \(r)")
                        onInstance[r] = nil
                    }
                    alive.remove(i); ready.remove(i); draining.remove(i)
                case .reject(let r, let code):
                    #expect(!gone.contains(r), "\(event): answer for \(r) whose client left")
                    #expect(answered.insert(r).inserted, "\(event): \(r) answered twice")
                    if code == .throttled {
                        #expect(waiting.remove(r) != nil, "\(event): 503 for \(r) that was not waiting")
                    } else {
                        #expect(code == .invocationTimeout && onInstance[r] != nil)
                    }
                case .failRequests(let rs, let code):
                    #expect(code == .noResponse)
                    for r in rs {
                        #expect(!gone.contains(r), "\(event): failure for \(r) whose client left")
                        #expect(answered.insert(r).inserted, "\(event): \(r) answered twice")
                    }
                }
            }
            let s = d.scheduler
            #expect(s.instances.count <= config.resolvedMaxInstances(machineMemoryBytes: Driver.memory))
            #expect(s.instances.values.count(where: \.isStarting) <= config.maxStartsInFlight)
            #expect(s.queue.count <= config.queueDepth)
            #expect(s.instances.values.allSatisfy { $0.inFlight.count <= config.slotsPerInstance })
            #expect(Set(s.instances.keys) == alive, "\(event): instance sets differ")
            #expect(Set(s.queue.ids) == waiting, "\(event): queues differ")
        }

        check(d.tick(), "boot")
        for step in 0..<1500 {
            let roll = rng.next() % 100
            let event: SchedulerEvent
            switch roll {
            case 0..<35:
                let r = RequestID(nextRequest)
                nextRequest += 1
                waiting.insert(r)
                event = .requestArrived(r, now: d.now)
            case 35..<60:
                guard let r = onInstance.keys.sorted().randomElement(using: &rng) else { continue }
                let host = onInstance.removeValue(forKey: r)!
                answered.insert(r)
                event = .requestFinished(r, instance: host, cpu: .milliseconds(Int64(rng.next() % 200)),
                                         wall: .milliseconds(200), now: d.now)
            case 60..<65:
                guard let r = (Array(waiting) + Array(onInstance.keys)).sorted().randomElement(using: &rng) else { continue }
                if waiting.remove(r) != nil { answered.insert(r) } else if !answered.contains(r) { gone.insert(r) }
                event = .requestCancelled(r, now: d.now)
            case 65..<75:
                guard let i = starting.sorted().randomElement(using: &rng) else { continue }
                starting.remove(i)
                ready.insert(i)
                event = .instanceReady(i, kind: .fork, startDuration: .milliseconds(3), now: d.now)
            case 75..<78:
                guard let i = alive.sorted().randomElement(using: &rng) else { continue }
                alive.remove(i); starting.remove(i); ready.remove(i); draining.remove(i)
                // Its requests are failed by the scheduler's action; the executor forgets them.
                let lost = onInstance.filter { $0.value == i }.map(\.key)
                check(d.send(.instanceDied(i, now: d.now)), "died \(i) at step \(step)")
                for r in lost {
                    onInstance[r] = nil
                    #expect(answered.contains(r) || gone.contains(r), "\(r) on dead \(i) never answered")
                }
                continue
            case 78..<85:
                guard let i = ready.sorted().randomElement(using: &rng) else { continue }
                cpuTotals[i, default: .zero] += .milliseconds(Int64(rng.next() % 600))
                event = .instanceStats(i, rssBytes: 1 << 25, cpuTotal: cpuTotals[i]!, now: d.now)
            default:
                d.wait(.milliseconds(Int64(rng.next() % 1500)))
                event = .tick(now: d.now)
            }
            check(d.send(event), "step \(step): \(event)")
        }
        // Every request that arrived was answered, is running, or still waits.
        for n in 1..<nextRequest {
            let r = RequestID(n)
            #expect(answered.contains(r) || gone.contains(r) || onInstance[r] != nil || waiting.contains(r), "\(r) lost")
        }
    }
}

extension Array {
    func randomElement(using rng: inout SplitMix64) -> Element? {
        isEmpty ? nil : self[Int(rng.next() % UInt64(count))]
    }
}
