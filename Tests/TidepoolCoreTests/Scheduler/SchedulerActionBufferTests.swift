import Testing
@testable import TidepoolCore

/// `handle(_:into:)`, which the host feeds one reused array, decides exactly
/// what `handle(_:)` does: same actions, appended after what the array held.
@Suite struct SchedulerActionBufferTests {
    @Test func appendingIntoAReusedBufferMatchesReturningAnArray() throws {
        var config = SchedulerConfig()
        config.minInstances = 1
        config.maxConcurrency = 2
        var returning = try Scheduler(config: config, machineMemoryBytes: 64 << 30)
        var appending = returning
        var buffer: [SchedulerAction] = [.stop(InstanceID(999))]
        var now = Instant.zero
        var events: [SchedulerEvent] = [.tick(now: now)]
        now += .milliseconds(5)
        events.append(.instanceReady(InstanceID(1), kind: .fork, startDuration: .milliseconds(5), now: now))
        for n in 1...12 {
            now += .milliseconds(3)
            events.append(.requestArrived(RequestID(UInt64(n)), now: now))
            if n.isMultiple(of: 3) {
                events.append(.requestFinished(
                    RequestID(UInt64(n - 2)), instance: InstanceID(1), cpu: .milliseconds(2), wall: .milliseconds(6),
                    now: now))
            }
        }
        events.append(.instanceReady(InstanceID(2), kind: .fork, startDuration: .milliseconds(9), now: now))
        events.append(.tick(now: now + .seconds(1)))
        for event in events {
            let expected = returning.handle(event)
            appending.handle(event, into: &buffer)
            #expect(Array(buffer.dropFirst()) == expected)
            buffer.removeSubrange(1...)
        }
        #expect(returning.running == appending.running)
        #expect(returning.instances == appending.instances)
    }
}
