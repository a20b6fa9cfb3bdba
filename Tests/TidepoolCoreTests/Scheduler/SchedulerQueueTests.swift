import Testing
@testable import TidepoolCore

/// The bounded FIFO in front: full → 503, waited too long → 503, FIFO when
/// capacity appears, and a client that leaves takes its request out.
@Suite struct SchedulerQueueTests {
    /// One instance with one slot that can never grow: everything else waits.
    static func single(_ configure: (inout SchedulerConfig) -> Void = { _ in }) throws -> Driver {
        var d = try Driver {
            $0.maxInstances = 1
            $0.maxConcurrency = 1
            $0.queueDepth = 2
            $0.queueTimeout = .seconds(5)
            configure(&$0)
        }
        d.boot()
        return d
    }

    @Test func aFullQueueRejectsWithThrottled() throws {
        var d = try Self.single()
        d.arrive(1, 2, 3) // r1 runs, r2 and r3 wait
        #expect(d.scheduler.queue.ids == [RequestID(2), RequestID(3)])
        let actions = d.arrive(4)
        #expect(actions == [.reject(RequestID(4), .throttled)])
        #expect(ErrorCode.throttled.status == 503)
    }

    @Test func aRequestWaitingPastQueueTimeoutIsThrottledOnTick() throws {
        var d = try Self.single()
        d.arrive(1, 2)
        d.wait(.milliseconds(4999))
        #expect(d.tick().isEmpty)
        d.wait(.milliseconds(1))
        #expect(d.tick() == [.reject(RequestID(2), .throttled)])
        #expect(d.scheduler.queue.isEmpty)
    }

    @Test func theQueueTimeoutIsCheckedOnEveryEventNotOnlyTicks() throws {
        var d = try Self.single()
        d.arrive(1, 2)
        d.wait(.seconds(6))
        // A finish frees the slot, but r2 already waited too long: 503, and
        // the slot goes to nobody rather than to a request whose client gave up.
        let actions = d.finish(1)
        #expect(actions == [.reject(RequestID(2), .throttled)])
        // A new arrival finds the free slot.
        #expect(d.arrive(3).dispatches.map(\.request) == [RequestID(3)])
    }

    @Test func waitingRequestsAreDispatchedFirstInFirstOut() throws {
        var d = try Self.single { $0.queueDepth = 10 }
        d.arrive(1...5)
        for n: UInt64 in 1...4 {
            d.wait(.milliseconds(100))
            #expect(d.finish(n).dispatches.map(\.request) == [RequestID(n + 1)])
        }
    }

    @Test func aCancelledQueuedRequestLeavesTheQueue() throws {
        var d = try Self.single()
        d.arrive(1, 2, 3)
        #expect(d.cancel(2).isEmpty) // nothing to answer: the client is gone
        #expect(d.scheduler.queue.ids == [RequestID(3)])
        #expect(d.arrive(4).rejects.isEmpty) // its place is free again
        #expect(d.finish(1).dispatches.map(\.request) == [RequestID(3)])
        // It never times out or gets dispatched later.
        d.advance(.seconds(10))
        #expect(!d.log.dispatches.map(\.request).contains(RequestID(2)))
        #expect(!d.log.rejects.map(\.request).contains(RequestID(2)))
    }

    @Test func aCancelledRunningRequestKeepsItsSlotUntilItFinishes() throws {
        var d = try Self.single()
        d.arrive(1, 2)
        #expect(d.cancel(1).isEmpty)
        #expect(d.inFlight(1) == 1) // Python is still running it
        #expect(d.scheduler.queue.ids == [RequestID(2)])
        #expect(d.finish(1).dispatches.map(\.request) == [RequestID(2)])
    }

    @Test func aQueueOfDepthZeroRejectsAtOnceButStillGrows() throws {
        var d = try Driver {
            $0.maxConcurrency = 1
            $0.queueDepth = 0
        }
        d.boot()
        d.arrive(1)
        let actions = d.arrive(2)
        #expect(actions.rejects.map(\.code) == [.throttled])
        // The turned-away request counts as demand: ceil(2 ÷ (1 × 0.7)) − 1 running.
        #expect(actions.starts.map(\.reason) == [.queue, .queue])
    }

    @Test func requestQueueSkipsRemovedEntriesAndCompacts() {
        var queue = RequestQueue()
        for n: UInt64 in 1...200 { queue.append(RequestID(n), arrivedAt: .zero) }
        for n: UInt64 in stride(from: 1, through: 199, by: 2) { queue.remove(RequestID(n)) }
        #expect(queue.count == 100)
        #expect(queue.first?.id == RequestID(2))
        var popped: [UInt64] = []
        while let next = queue.popFirst() { popped.append(next.id.rawValue) }
        #expect(popped == Array(stride(from: 2, through: 200, by: 2)))
        #expect(queue.isEmpty && queue.first == nil)
    }
}
