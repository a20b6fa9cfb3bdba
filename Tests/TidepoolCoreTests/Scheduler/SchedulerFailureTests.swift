import Testing
@testable import TidepoolCore

/// A dead instance fails only its own requests and the pool refills.
@Suite struct SchedulerFailureTests {
    @Test func aDeadInstancesRequestsFailAndThePoolRefills() throws {
        var d = try Driver {
            $0.minInstances = 2
            $0.maxConcurrency = 2
            $0.targetUtilisation = 1 // 4 in flight need exactly the 2 instances
        }
        d.boot(stagger: .milliseconds(100))
        d.arrive(1...4) // r1, r2 → i2 (most recent); r3, r4 → i1
        #expect(d.instance(of: 1) == InstanceID(2))
        #expect(d.instance(of: 3) == InstanceID(1))

        d.wait(.seconds(1))
        let actions = d.died(2)
        #expect(actions == [
            .failRequests([RequestID(1), RequestID(2)], .noResponse),
            .start(InstanceID(3), reason: .died),
        ])
        #expect(ErrorCode.noResponse.status == 502)
        // Nobody else noticed.
        #expect(d.inFlight(1) == 2)
        #expect(d.scheduler.running.count == 2)
        d.ready(3)
        #expect(d.scheduler.instances.count == 2)
        #expect(d.arrive(5).dispatches.map(\.instance) == ids(3)) // i1 is full
    }

    @Test func requestsAlreadyAnsweredAreNotFailedAgain() throws {
        var d = try Driver { $0.maxDuration = .seconds(10) }
        d.boot()
        d.arrive(1, 2, 3)
        d.cancel(3)
        d.advance(.seconds(5))
        d.arrive(4)
        d.advance(.seconds(5)) // r1–r3 past maxDuration; r1, r2 got 504 (r3's client left)
        let actions = d.died(1)
        #expect(actions.first == .failRequests([RequestID(4)], .noResponse))
        #expect(d.scheduler.running.isEmpty)
    }

    @Test func anInstanceThatDiesWhileStartingIsReplaced() throws {
        var d = try Driver()
        d.tick()
        d.arrive(1) // waits for i1
        #expect(d.died(1) == [.start(InstanceID(2), reason: .died)])
        #expect(d.ready(2).dispatches.map(\.request) == [RequestID(1)])
    }

    @Test func theQueueIsGlobalSoADeathLosesNoQueuedRequest() throws {
        var d = try Driver {
            $0.maxConcurrency = 1
            $0.maxInstances = 2
        }
        d.boot()
        d.arrive(1, 2, 3) // r1 on i1; r2, r3 wait; i2 starting
        let actions = d.died(1)
        #expect(actions.first == .failRequests([RequestID(1)], .noResponse))
        #expect(d.scheduler.queue.ids == [RequestID(2), RequestID(3)])
        d.readyAllStarting()
        #expect(d.log.dispatches.map(\.request).contains(RequestID(2)))
    }

    @Test func unknownAndDuplicateEventsAreHarmless() throws {
        var d = try Driver()
        d.boot()
        #expect(d.finish(99).isEmpty)
        #expect(d.cancel(99).isEmpty)
        #expect(d.ready(42).isEmpty)
        #expect(d.stats(42, cpuTotal: .seconds(1)).isEmpty)
        d.arrive(1)
        #expect(d.arrive(1).isEmpty) // a duplicate id keeps the first
        #expect(d.scheduler.running.count == 1)
        // A clock that steps back is treated as standing still.
        d.wait(.seconds(5))
        d.tick()
        d.now = .zero
        #expect(d.tick().isEmpty)
    }

    @Test func instancesThatKeepDyingBeforeReadyBackOff() throws {
        var d = try Driver()
        d.tick() // i1
        #expect(d.died(1).starts.map(\.reason) == [.died]) // i2
        #expect(d.died(2).starts.map(\.reason) == [.died]) // i3
        #expect(d.died(3).starts.isEmpty) // third in a row: back off 1 s
        #expect(d.snapshot.startsBlockedUntil == d.now + .seconds(1))
        d.wait(.milliseconds(500))
        #expect(d.tick().starts.isEmpty)
        d.wait(.milliseconds(500))
        #expect(d.tick().starts.map(\.instance) == ids(4))
        d.died(4) // fourth: 2 s
        d.wait(.milliseconds(1500))
        #expect(d.tick().starts.isEmpty)
        d.wait(.milliseconds(500))
        #expect(d.tick().starts.map(\.instance) == ids(5))
        // One that answers ready ends the back-off.
        d.ready(5)
        #expect(d.scheduler.failedStartsInARow == 0)
        #expect(d.snapshot.startsBlockedUntil == nil)
    }
}
