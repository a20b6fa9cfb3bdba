import Testing
@testable import TidepoolCore

@Suite("FixedPool placement")
struct FixedPoolTests {
    /// A pool whose instances 1...size are started and ready.
    private func readyPool(size: Int = 2, slots: Int = 2, queue: Int = 1024) -> FixedPool {
        var pool = FixedPool(size: size, slotsPerInstance: slots, queueCapacity: queue)
        for case .startInstance(let id) in pool.start() {
            _ = pool.instanceReady(id)
        }
        return pool
    }

    @Test func startsOneInstancePerSlotOfTheFixedSize() {
        var pool = FixedPool(size: 3, slotsPerInstance: 8)
        do { let r = pool.start(); #expect(r == [.startInstance(1), .startInstance(2), .startInstance(3)]) }
        do { let r = pool.start(); #expect(r.isEmpty) }
        #expect(pool.readyCount == 0)
    }

    @Test func queuesUntilAnInstanceIsReadyThenDispatches() {
        var pool = FixedPool(size: 1, slotsPerInstance: 1)
        _ = pool.start()
        do { let r = pool.requestArrived(10); #expect(r == [.enqueue(10)]) }
        do { let r = pool.requestArrived(11); #expect(r == [.enqueue(11)]) }
        do { let r = pool.instanceReady(1); #expect(r == [.dispatch(10, to: 1)]) }
        #expect(pool.queuedCount == 1)
        do { let r = pool.requestFinished(10, on: 1); #expect(r == [.dispatch(11, to: 1)]) }
        do { let r = pool.requestFinished(11, on: 1); #expect(r.isEmpty) }
        #expect(pool.isIdle)
    }

    @Test func placesOnTheLeastLoadedInstanceWithTiesToTheLowestID() {
        var pool = readyPool(size: 3, slots: 4)
        do { let r = pool.requestArrived(1); #expect(r == [.dispatch(1, to: 1)]) }
        do { let r = pool.requestArrived(2); #expect(r == [.dispatch(2, to: 2)]) }
        do { let r = pool.requestArrived(3); #expect(r == [.dispatch(3, to: 3)]) }
        do { let r = pool.requestArrived(4); #expect(r == [.dispatch(4, to: 1)]) }
        _ = pool.requestFinished(2, on: 2)
        do { let r = pool.requestArrived(5); #expect(r == [.dispatch(5, to: 2)]) }
        #expect(pool.instance(1)?.inFlight == 2)
    }

    @Test func readySlotCountFromTheInstanceOverridesTheDefault() {
        var pool = FixedPool(size: 1, slotsPerInstance: 1)
        _ = pool.start()
        _ = pool.instanceReady(1, slots: 3)
        do { let r = pool.requestArrived(1); #expect(r == [.dispatch(1, to: 1)]) }
        do { let r = pool.requestArrived(2); #expect(r == [.dispatch(2, to: 1)]) }
        do { let r = pool.requestArrived(3); #expect(r == [.dispatch(3, to: 1)]) }
        do { let r = pool.requestArrived(4); #expect(r == [.enqueue(4)]) }
    }

    @Test func aFullQueueRejectsWithThrottled() {
        var pool = readyPool(size: 1, slots: 1, queue: 2)
        do { let r = pool.requestArrived(1); #expect(r == [.dispatch(1, to: 1)]) }
        do { let r = pool.requestArrived(2); #expect(r == [.enqueue(2)]) }
        do { let r = pool.requestArrived(3); #expect(r == [.enqueue(3)]) }
        do { let r = pool.requestArrived(4); #expect(r == [.reject(4, .throttled)]) }
        #expect(pool.queuedCount == 2)
    }

    @Test func queueIsFirstInFirstOutAndNewArrivalsDoNotJumpIt() {
        var pool = readyPool(size: 1, slots: 2)
        _ = pool.requestArrived(1)
        _ = pool.requestArrived(2)
        _ = pool.requestArrived(3)
        _ = pool.requestArrived(4)
        do { let r = pool.requestFinished(1, on: 1); #expect(r == [.dispatch(3, to: 1)]) }
        // A slot is free now only after 2 finishes; a new arrival queues behind 4.
        do { let r = pool.requestArrived(5); #expect(r == [.enqueue(5)]) }
        do { let r = pool.requestFinished(2, on: 1); #expect(r == [.dispatch(4, to: 1)]) }
        do { let r = pool.requestFinished(3, on: 1); #expect(r == [.dispatch(5, to: 1)]) }
    }

    @Test func aDeadInstanceIsReplacedWithANewIDAndQueuedRequestsWait() {
        var pool = readyPool(size: 1, slots: 1)
        _ = pool.requestArrived(1)
        _ = pool.requestArrived(2)
        do { let r = pool.instanceDied(1); #expect(r == [.startInstance(2)]) }
        #expect(pool.queuedCount == 1)
        // Finishing a request of the dead instance is harmless.
        do { let r = pool.requestFinished(1, on: 1); #expect(r.isEmpty) }
        do { let r = pool.instanceReady(2); #expect(r == [.dispatch(2, to: 2)]) }
    }

    @Test func deathOfAnUnknownInstanceDoesNothing() {
        var pool = readyPool(size: 1)
        do { let r = pool.instanceDied(99); #expect(r.isEmpty) }
        #expect(pool.instances.count == 1)
    }

    @Test func aStoppingPoolReplacesNothingButFinishesQueuedWork() {
        var pool = readyPool(size: 2, slots: 1)
        _ = pool.requestArrived(1)
        _ = pool.requestArrived(2)
        _ = pool.requestArrived(3)
        pool.stop()
        #expect(pool.instances.allSatisfy { $0.state == .draining })
        do { let r = pool.instanceDied(2); #expect(r.isEmpty) }
        do { let r = pool.requestFinished(1, on: 1); #expect(r == [.dispatch(3, to: 1)]) }
        #expect(!pool.isIdle)
        _ = pool.requestFinished(3, on: 1)
        #expect(pool.isIdle)
    }

    @Test func aCancelledQueuedRequestLeavesTheQueue() {
        var pool = readyPool(size: 1, slots: 1)
        _ = pool.requestArrived(1)
        _ = pool.requestArrived(2)
        _ = pool.requestArrived(3)
        do { let r = pool.requestCancelled(2); #expect(r) }
        do { let r = pool.requestCancelled(2); #expect(!r) }
        do { let r = pool.requestFinished(1, on: 1); #expect(r == [.dispatch(3, to: 1)]) }
    }

    @Test func aDuplicateReadyIsIgnored() {
        var pool = readyPool(size: 1, slots: 1)
        _ = pool.requestArrived(1)
        do { let r = pool.instanceReady(1); #expect(r.isEmpty) }
        #expect(pool.instance(1)?.inFlight == 1)
    }

    @Test func fifoSurvivesManyCompactions() {
        var fifo = FIFO<UInt32>()
        var expected: UInt32 = 0
        for i in 0..<10_000 as Range<UInt32> {
            fifo.append(i)
            if i % 3 != 0 {
                let first = fifo.removeFirst()
                #expect(first == expected)
                expected += 1
            }
        }
        #expect(fifo.count == 10_000 - Int(expected))
    }
}
