import Testing
@testable import TidepoolCore

/// Where requests go: pack onto the busiest instance with room (spread over a
/// pinned pool), ties to the most recently used, never onto starting, draining
/// or saturated instances.
@Suite struct SchedulerPlacementTests {
    @Test func packsOntoTheBusiestInstanceUntilItIsFull() throws {
        var d = try Driver { $0.minInstances = 3 }
        d.boot(stagger: .milliseconds(100)) // i1, i2, i3 ready in that order

        // All idle: the most recently ready (i3) wins, then it stays the busiest.
        let first = d.arrive(1...32)
        #expect(first.dispatched(to: 3) == Array(1...32))
        // i3 full: the next busiest (all 0) most recently used is i2.
        let next = d.arrive(33...40)
        #expect(next.dispatched(to: 2) == Array(33...40))
        #expect(d.inFlight(1) == 0)

        // A slot frees on i3: the busiest with room is i3 again, not i2.
        d.wait(.seconds(1))
        d.finish(5)
        #expect(d.arrive(41).dispatches.map(\.instance) == ids(3))
    }

    @Test func aPinnedPoolSpreadsOntoTheLeastBusyInstance() throws {
        var d = try Driver {
            $0.minInstances = 2
            $0.maxInstances = 2
        }
        d.boot(stagger: .milliseconds(100))
        // Idle tie: the most recently ready (i2) first, then the least busy;
        // equal loads (same instant of last use) go to the lowest id.
        let first = d.arrive(1...6)
        #expect(first.dispatched(to: 1) == [2, 3, 5])
        #expect(first.dispatched(to: 2) == [1, 4, 6])
        // i1 frees two slots: the next two go there, not to i2.
        d.wait(.seconds(1))
        d.finish(2)
        d.finish(3)
        #expect(d.arrive(7, 8).dispatches.map(\.instance) == ids(1, 1))
    }

    @Test func aPinnedPoolServesOneRequestAtATimeOnTheWarmInstance() throws {
        var d = try Driver {
            $0.minInstances = 2
            $0.maxInstances = 2
        }
        d.boot(stagger: .milliseconds(100))
        // One request at a time (wrk -c1): each finds both idle and goes to
        // the one that served the last, not to the other in turn.
        for id: UInt64 in 1...6 {
            d.wait(.milliseconds(1))
            #expect(d.arrive(id).dispatches.map(\.instance) == ids(2))
            d.wait(.milliseconds(1))
            d.finish(id)
        }
        // A second concurrent request still spreads to the idle instance.
        #expect(d.arrive(7).dispatches.map(\.instance) == ids(2))
        #expect(d.arrive(8).dispatches.map(\.instance) == ids(1))
    }

    @Test func aPoolThatMayShrinkStillPacks() throws {
        var d = try Driver {
            $0.minInstances = 2
            $0.maxInstances = 3
        }
        d.boot(stagger: .milliseconds(100))
        #expect(d.arrive(1...4).dispatched(to: 2) == [1, 2, 3, 4])
    }

    @Test func tiesGoToTheMostRecentlyUsedInstance() throws {
        var d = try Driver {
            $0.minInstances = 2
            $0.maxConcurrency = 1
        }
        d.boot(stagger: .milliseconds(100))
        d.arrive(1, 2) // r1 → i2 (most recently ready), r2 → i1
        #expect(d.instance(of: 1) == InstanceID(2))
        #expect(d.instance(of: 2) == InstanceID(1))

        d.wait(.seconds(1))
        d.finish(1) // i2 used at t+1
        d.wait(.seconds(1))
        d.finish(2) // i1 used at t+2: now the most recent
        #expect(d.arrive(3).dispatches.map(\.instance) == ids(1))
    }

    @Test func neverPlacesOnAStartingInstance() throws {
        var d = try Driver {
            $0.minInstances = 2
            $0.maxConcurrency = 2
        }
        d.tick()
        d.ready(1) // i2 stays starting
        let actions = d.arrive(1...3)
        #expect(actions.dispatched(to: 1) == [1, 2])
        #expect(actions.dispatched(to: 2).isEmpty)
        #expect(d.scheduler.queue.ids == [RequestID(3)]) // waits for i2
        #expect(d.ready(2).dispatches.map(\.request) == [RequestID(3)])
    }

    @Test func neverPlacesOnADrainingInstanceEvenWhenItIsTheBusiest() throws {
        var d = try Driver {
            $0.minInstances = 2
            $0.maxDuration = .seconds(10)
            $0.stuckGrace = .seconds(5)
        }
        d.boot(stagger: .milliseconds(100))
        d.arrive(1) // on i2 (most recently ready)
        d.advance(.seconds(8))
        d.arrive(2) // on i2 too (the busiest)
        #expect(d.instance(of: 2) == InstanceID(2))
        d.advance(.seconds(7)) // r1 past maxDuration + grace: i2 drains (stuck); r2 keeps it alive
        #expect(d.log.drains.map(\.instance) == ids(2))
        #expect(d.log.kills.isEmpty)
        // i2 has the most in flight and free slots, but is draining.
        #expect(d.arrive(3).dispatches.map(\.instance) == ids(1))
    }

    @Test func placementHelperOrdersByInFlightThenRecencyThenID() {
        var (a, b) = readyPair()
        func choose(_ records: [InstanceRecord], slots: Int = 4) -> InstanceID? {
            Placement.choose(among: records, slotsPerInstance: slots, saturationThreshold: 0.9, now: .zero)
        }
        #expect(choose([b, a]) == a.id) // full tie: lowest id
        b.lastUsed = Instant.zero + .seconds(1)
        #expect(choose([a, b]) == b.id) // most recently used
        a.inFlight = [RequestID(9)]
        #expect(choose([a, b]) == a.id) // busiest
        #expect(choose([a, b], slots: 1) == b.id) // a is full
        b.state = .draining(.idle)
        #expect(choose([a, b], slots: 1) == nil)
    }

    @Test func placementHelperSpreadsByInFlightThenRecencyThenID() {
        var (a, b) = readyPair()
        func choose(_ records: [InstanceRecord], slots: Int = 4) -> InstanceID? {
            Placement.choose(among: records, slotsPerInstance: slots, saturationThreshold: 0.9, now: .zero, spread: true)
        }
        #expect(choose([b, a]) == a.id) // full tie: lowest id
        b.lastUsed = Instant.zero + .seconds(1)
        #expect(choose([a, b]) == b.id) // most recently used (warm)
        b.inFlight = [RequestID(9)]
        #expect(choose([a, b]) == a.id) // least busy, though colder
        a.inFlight = [RequestID(6)]
        b.inFlight = [RequestID(9)]
        #expect(choose([a, b]) == b.id) // equal loads: most recently used again
        a.inFlight = [RequestID(9)]
        b.inFlight = [RequestID(7), RequestID(8)]
        #expect(choose([a, b], slots: 2) == a.id) // b is full
    }

    /// Two ready, idle instances, i1 and i2, for the placement helper's tests.
    private func readyPair() -> (InstanceRecord, InstanceRecord) {
        var a = InstanceRecord(id: InstanceID(1), reason: .minimum, requestedAt: .zero, saturationWindow: .seconds(2))
        var b = InstanceRecord(id: InstanceID(2), reason: .minimum, requestedAt: .zero, saturationWindow: .seconds(2))
        a.state = .ready
        b.state = .ready
        return (a, b)
    }
}
