import Testing
@testable import TidepoolCore

/// An instance whose RSS passes `instanceMemoryMB` is recycled: drained (its
/// in-flight requests finish, it takes nothing new), replaced at once, and
/// stopped only when it holds nothing — never cut mid-request.
@Suite struct SchedulerMemoryTests {
    private let mib: UInt64 = 1 << 20

    @Test func overMemoryDrainsReplacesAndStopsAfterInFlightFinishes() throws {
        var d = try Driver { $0.instanceMemoryMB = 100 }
        d.boot()
        #expect(d.arrive(1, 2).dispatched(to: 1) == [1, 2])

        // At the limit is fine; above it is not.
        #expect(d.stats(1, cpuTotal: .zero, rssBytes: 100 * mib).isEmpty)
        let over = d.stats(1, cpuTotal: .zero, rssBytes: 100 * mib + 1)
        #expect(over.drains.map(\.instance) == ids(1))
        #expect(over.drains.map(\.reason) == [.memory])
        #expect(over.starts.map(\.reason) == [.memory])
        #expect(over.stops.isEmpty)

        // New work waits for the replacement rather than landing on the old instance.
        d.arrive(3)
        #expect(d.instance(of: 3) == nil)
        d.ready(2)
        #expect(d.instance(of: 3) == InstanceID(2))

        // The old one stops only after its last request.
        #expect(d.finish(1).stops.isEmpty)
        #expect(d.finish(2).stops == ids(1))
    }

    @Test func anIdleOverMemoryInstanceStopsAtOnce() throws {
        var d = try Driver { $0.instanceMemoryMB = 64 }
        d.boot()
        let actions = d.stats(1, cpuTotal: .zero, rssBytes: 65 * mib)
        #expect(actions.drains.map(\.instance) == ids(1))
        #expect(actions.stops == ids(1))
        #expect(actions.starts.count == 1) // minInstances still holds
    }

    @Test func aDrainingInstanceIsNotRecycledTwice() throws {
        var d = try Driver { $0.instanceMemoryMB = 64 }
        d.boot()
        d.arrive(1)
        #expect(d.stats(1, cpuTotal: .zero, rssBytes: 80 * mib).drains.count == 1)
        #expect(d.stats(1, cpuTotal: .zero, rssBytes: 90 * mib).drains.isEmpty)
    }
}
