import Testing
@testable import TidepoolCore

/// Redeploy as generations: the old version serves until the new one is up,
/// new requests go to the new version, old instances finish their in-flight
/// requests and stop; a new version that never comes up leaves the old serving.
@Suite struct SchedulerRedeployTests {
    @Test func redeployStartsReplacementsAndOldKeepsServingUntilTheyAreReady() throws {
        var d = try Driver { $0.minInstances = 2; $0.maxConcurrency = 4 }
        d.boot()
        #expect(d.servingIDs == ids(1, 2))
        d.arrive(1)
        let old = try #require(d.instance(of: 1))

        let actions = d.send(.redeploy(now: d.now))
        #expect(actions.starts.map(\.instance) == ids(3, 4))
        #expect(actions.starts.allSatisfy { $0.reason == .redeploy })
        #expect(actions.drains.isEmpty)
        #expect(d.scheduler.generation == 1)

        // While the new ones start, requests still go to the old version.
        let during = d.arrive(2)
        #expect(during.dispatches.map(\.instance).allSatisfy { $0 == InstanceID(1) || $0 == InstanceID(2) })
        #expect(d.scheduler.queue.isEmpty)

        // One new instance ready: the old still wait for the other (no drain yet),
        // but new requests go to the new version.
        d.wait(.milliseconds(100))
        #expect(d.ready(3).drains.isEmpty)
        #expect(d.arrive(3).dispatched(to: 3) == [3])

        // Both new ones ready: every old instance drains; the idle one stops
        // at once, the busy one after its requests finish.
        let swap = d.ready(4)
        #expect(Set(swap.drains.map(\.instance)) == Set(ids(1, 2)))
        #expect(swap.drains.allSatisfy { $0.reason == .redeploy })
        let busyOld = Set([old, d.instance(of: 2)!])
        #expect(Set(swap.stops) == Set(ids(1, 2)).subtracting(busyOld))
        #expect(d.arrive(4).dispatches.allSatisfy { $0.instance.rawValue >= 3 })

        var stops: [InstanceID] = swap.stops
        stops += d.finish(1).stops
        stops += d.finish(2).stops
        #expect(Set(stops) == Set(ids(1, 2)))
        #expect(d.scheduler.instances.keys.sorted() == ids(3, 4))
        #expect(d.scheduler.retiringInstances == 0)
    }

    @Test func oldVersionKeepsServingWhenTheNewOneNeverComesUp() throws {
        var d = try Driver { $0.minInstances = 1; $0.maxConcurrency = 4 }
        d.boot()
        d.send(.redeploy(now: d.now))
        #expect(d.startingIDs == ids(2))
        d.died(2)
        // No drain of the old instance; requests are still served by it.
        #expect(d.log.drains.isEmpty)
        #expect(d.arrive(1).dispatched(to: 1) == [1])
        d.advance(.seconds(5))
        #expect(d.scheduler.instances[InstanceID(1)]?.isServing == true)
        // A later replacement that does come up retires it.
        for id in d.startingIDs { d.send(.instanceReady(id, kind: .fork, startDuration: .milliseconds(3), now: d.now)) }
        d.finish(1)
        d.advance(.seconds(1))
        #expect(d.scheduler.instances[InstanceID(1)] == nil)
        #expect(d.log.drains.contains { $0.instance == InstanceID(1) && $0.reason == .redeploy })
    }

    @Test func aSecondRedeployWhileTheFirstIsStartingRetiresBothOlderGenerations() throws {
        var d = try Driver { $0.minInstances = 1; $0.maxConcurrency = 4 }
        d.boot()
        d.send(.redeploy(now: d.now))          // starts 2 (generation 1)
        d.send(.redeploy(now: d.now))          // starts 3 (generation 2) for the 2 live
        #expect(d.scheduler.generation == 2)
        d.readyAllStarting()
        #expect(d.scheduler.instances.values.allSatisfy { $0.generation == 2 })
        #expect(d.servingIDs.allSatisfy { d.scheduler.instances[$0]?.generation == 2 })
    }

    @Test func redeployMayExceedMaxInstancesWhileOldInstancesRetire() throws {
        var d = try Driver { $0.minInstances = 1; $0.maxInstances = 1; $0.maxConcurrency = 2 }
        d.boot()
        let actions = d.send(.redeploy(now: d.now))
        #expect(actions.starts.map(\.instance) == ids(2))
        d.ready(2)
        #expect(d.scheduler.instances.keys.sorted() == ids(2))
    }
}
