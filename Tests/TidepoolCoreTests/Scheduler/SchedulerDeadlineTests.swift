import Testing
@testable import TidepoolCore

/// `maxDuration` (504, slot still counted) and stuck instances (drained after
/// `stuckGrace`, killed when their other work is done or past its deadline).
@Suite struct SchedulerDeadlineTests {
    @Test func aRequestPastMaxDurationGets504ButKeepsItsSlot() throws {
        var d = try Driver {
            $0.maxInstances = 1
            $0.maxConcurrency = 1
            $0.maxDuration = .seconds(10)
            $0.stuckGrace = .seconds(60)
            $0.queueTimeout = .seconds(60)
        }
        d.boot()
        d.arrive(1, 2) // r1 runs, r2 waits
        d.wait(.milliseconds(9999))
        #expect(d.tick().isEmpty)
        d.wait(.milliseconds(1))
        #expect(d.tick() == [.reject(RequestID(1), .invocationTimeout)])
        #expect(ErrorCode.invocationTimeout.status == 504)

        // Python has not returned: the slot is still taken, r2 still waits.
        #expect(d.inFlight(1) == 1)
        #expect(d.scheduler.queue.ids == [RequestID(2)])
        #expect(d.advance(.seconds(1)).isEmpty) // no second 504
        // When it returns, the slot goes to r2.
        #expect(d.finish(1).dispatches.map(\.request) == [RequestID(2)])
    }

    @Test func aCancelledRequestPastMaxDurationIsNotAnsweredAgain() throws {
        var d = try Driver { $0.maxDuration = .seconds(10) }
        d.boot()
        d.arrive(1)
        d.cancel(1)
        #expect(d.advance(.seconds(11)).rejects.isEmpty)
    }

    @Test func aStuckInstanceIsDrainedAfterGraceAndKilledWhenItsOtherWorkIsDone() throws {
        var d = try Driver {
            $0.maxDuration = .seconds(10)
            $0.stuckGrace = .seconds(5)
        }
        d.boot()
        d.arrive(1) // stuck forever
        d.advance(.seconds(8))
        d.arrive(2) // healthy, on the same instance
        let atDeadline = d.advance(.seconds(2)) // t = 10
        #expect(atDeadline.rejected(.invocationTimeout) == [1])

        // t = 15: past maxDuration + grace. Drain, and start a replacement at
        // once (minInstances 1 would otherwise be unmet).
        let atGrace = d.advance(.seconds(5))
        #expect(atGrace.drains.map(\.instance) == ids(1))
        #expect(atGrace.drains.map(\.reason) == [.stuck])
        #expect(atGrace.starts.map(\.reason) == [.stuck])
        #expect(atGrace.kills.isEmpty) // r2 still within its deadline

        // New work goes to the replacement.
        d.ready(2)
        #expect(d.arrive(3).dispatches.map(\.instance) == ids(2))

        // r2 finishes: only the 504'd r1 is left → kill in the same call.
        d.wait(.seconds(1))
        let finished = d.finish(2)
        #expect(finished.kills == ids(1))
        #expect(d.scheduler.instances[InstanceID(1)] == nil)
        #expect(d.scheduler.running[RequestID(1)] == nil)
        // A late finish or death report for it is ignored.
        #expect(d.finish(1).isEmpty)
        #expect(d.died(1).isEmpty)
    }

    @Test func aStuckInstanceIsKilledWhenItsOtherRequestsPassTheirOwnDeadline() throws {
        var d = try Driver {
            $0.maxDuration = .seconds(10)
            $0.stuckGrace = .seconds(5)
        }
        d.boot()
        d.arrive(1)
        d.advance(.seconds(8))
        d.arrive(2)
        d.advance(.seconds(7)) // t = 15: drain (stuck)
        #expect(d.log.kills.isEmpty)
        let atR2Deadline = d.advance(.seconds(3)) // t = 18: r2 gets its 504, then kill
        #expect(atR2Deadline.rejected(.invocationTimeout) == [2])
        #expect(atR2Deadline.kills == ids(1))
        // Order: the 504 is sent before the kill.
        let rejectIndex = try #require(atR2Deadline.firstIndex(of: .reject(RequestID(2), .invocationTimeout)))
        let killIndex = try #require(atR2Deadline.firstIndex(of: .kill(InstanceID(1))))
        #expect(rejectIndex < killIndex)
    }

    @Test func aStuckInstanceWhoseRequestReturnsIsStoppedGracefully() throws {
        var d = try Driver {
            $0.maxDuration = .seconds(10)
            $0.stuckGrace = .seconds(5)
        }
        d.boot()
        d.arrive(1)
        d.advance(.seconds(8))
        d.arrive(2)
        d.advance(.seconds(7)) // stuck drain
        d.finish(1) // the stuck one returns after all
        let done = d.finish(2)
        #expect(done.stops == ids(1))
        #expect(d.log.kills.isEmpty)
    }
}
