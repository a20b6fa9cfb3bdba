import Testing
@testable import TidepoolCore

/// The measuring parts: time-weighted windows, CPU share, and the snapshot.
@Suite struct SchedulerWindowTests {
    let t0 = Instant.zero

    @Test func aConstantValueAveragesToItself() {
        var w = SlidingWindow(length: .seconds(10), origin: t0)
        w.add(3 * 4, from: t0, to: t0 + .seconds(4)) // concurrency 3 for 4 s
        #expect(abs(w.average(at: t0 + .seconds(4)) - 3) < 1e-9)
    }

    @Test func aYoungWindowAveragesOverWhatItHasSeen() {
        var w = SlidingWindow(length: .seconds(60), origin: t0)
        w.add(10, from: t0, to: t0 + .seconds(1))
        #expect(abs(w.average(at: t0 + .seconds(1)) - 10) < 1e-9)
        #expect(abs(w.average(at: t0 + .seconds(2)) - 5) < 1e-9) // 1 s of 10, 1 s of nothing
    }

    @Test func oldAmountsLeaveTheWindow() {
        var w = SlidingWindow(length: .seconds(6), origin: t0, bucketCount: 6)
        w.add(6, from: t0, to: t0 + .seconds(1))
        #expect(w.sum(at: t0 + .seconds(5)) == 6)
        #expect(w.sum(at: t0 + .seconds(8)) == 0)
        // Reusing the ring slot later does not resurrect the old amount.
        w.add(1, from: t0 + .seconds(20), to: t0 + .seconds(21))
        #expect(w.sum(at: t0 + .seconds(21)) == 1)
        #expect(w.average(at: t0 + .seconds(60)) == 0)
    }

    @Test func anAmountIsSpreadOverItsInterval() {
        var w = SlidingWindow(length: .seconds(4), origin: t0, bucketCount: 4)
        w.add(8, from: t0, to: t0 + .seconds(8)) // half of it is older than the window
        #expect(abs(w.sum(at: t0 + .seconds(8)) - 4) < 1e-9)
    }

    /// The kept sum must equal the buckets' sum whatever the order of adds
    /// and reads: adds within one bucket, across buckets, spanning more than
    /// the window, ending before the newest bucket, after long idle gaps, and
    /// reads at, after and before the newest add.
    @Test(arguments: [(6, 6), (60, 60), (6, 30), (1, 7)])
    func theKeptSumIsTheBucketsSum(seconds: Int, bucketCount: Int) {
        var w = SlidingWindow(length: .seconds(seconds), origin: t0, bucketCount: bucketCount)
        var random = SplitMix64(seed: UInt64(seconds * 1000 + bucketCount))
        var now = t0
        for step in 0..<5_000 {
            let gap = switch random.next() % 10 {
            case 0: Int64(random.next() % 20_000_000_000)  // idle, up to 20 s
            case 1, 2: Int64(random.next() % 1_000_000_000)
            default: Int64(random.next() % 2_000_000)  // back-to-back events
            }
            now = now + .nanoseconds(gap)
            let span = Int64(random.next() % 3 == 0 ? random.next() % 15_000_000_000 : random.next() % 3_000_000)
            let backdate = random.next() % 8 == 0 ? Int64(random.next() % 2_000_000_000) : 0
            let end = now - .nanoseconds(backdate)
            w.add(Double(random.next() % 1000) / 7, from: end - .nanoseconds(span), to: end)
            for read in [now, now + .milliseconds(Int64(random.next() % 3000)), now - .milliseconds(Int64(random.next() % 3000))] {
                let kept = w.sum(at: read), counted = w.recountedSum(at: read)
                #expect(abs(kept - counted) <= 1e-9 * max(1, abs(counted)), "step \(step), read at \(read)")
            }
        }
    }

    @Test func durationsBecomeWholeNanosecondsTruncated() {
        #expect(Duration.nanoseconds(123).inNanoseconds == 123)
        #expect(Duration.seconds(-1.5).inNanoseconds == -1_500_000_000)
        #expect(Duration(attoseconds: 1_999_999_999).inNanoseconds == 1)
        #expect(Duration(attoseconds: -1_999_999_999).inNanoseconds == -1)
        #expect((Duration.seconds(3) + Duration(attoseconds: 999_999_999)).inNanoseconds == 3_000_000_000)
        #expect(Duration.seconds(86_400 * 365).inNanoseconds == 31_536_000_000_000_000)
    }

    @Test func cpuShareFromStatsIsTheDeltaOverBusyTime() {
        var cpu = CPUSaturation(window: .seconds(2), since: t0)
        cpu.recordStats(cpuTotal: .seconds(10), at: t0)
        #expect(cpu.share(at: t0) == 0) // one sample says nothing yet
        cpu.recordBusy(from: t0, to: t0 + .seconds(1))
        cpu.recordStats(cpuTotal: .seconds(10) + .milliseconds(500), at: t0 + .seconds(1))
        #expect(abs(cpu.share(at: t0 + .seconds(1)) - 0.5) < 1e-9)
        cpu.recordBusy(from: t0 + .seconds(1), to: t0 + .seconds(3))
        cpu.recordStats(cpuTotal: .seconds(11) + .milliseconds(500), at: t0 + .seconds(2))
        cpu.recordStats(cpuTotal: .seconds(12) + .milliseconds(500), at: t0 + .seconds(3))
        #expect(abs(cpu.share(at: t0 + .seconds(3)) - 1) < 1e-9) // last 2 s: pegged
        #expect(cpu.share(at: t0 + .seconds(10)) == 0) // stale stats say nothing
    }

    @Test func idleTimeDoesNotDiluteTheShare() {
        // Busy 0.5 s of every second, using all of a core while busy: saturated.
        var cpu = CPUSaturation(window: .seconds(2), since: t0)
        cpu.recordStats(cpuTotal: .zero, at: t0)
        for second in 0..<2 {
            let start = t0 + .seconds(second)
            cpu.recordBusy(from: start, to: start + .milliseconds(500))
            cpu.recordStats(cpuTotal: .milliseconds(500 * (second + 1)), at: start + .seconds(1))
        }
        #expect(abs(cpu.share(at: t0 + .seconds(2)) - 1) < 1e-9)
    }

    @Test func cpuShareFromFinishedRequests() {
        var cpu = CPUSaturation(window: .seconds(2), since: t0)
        cpu.recordBusy(from: t0, to: t0 + .seconds(1))
        cpu.recordRequest(cpu: .milliseconds(900), wall: .seconds(1), finishedAt: t0 + .seconds(1))
        #expect(abs(cpu.share(at: t0 + .seconds(1)) - 0.9) < 1e-9)
        #expect(cpu.share(at: t0 + .seconds(4)) == 0)
    }

    @Test func theSnapshotExplainsTheDecision() throws {
        var d = try Driver {
            $0.maxConcurrency = 4
            $0.targetUtilisation = 0.5
        }
        d.boot()
        d.arrive(1...6) // 4 run on i1, 2 wait: 6 ÷ 2 = 3 instances
        let s = d.snapshot
        #expect(s.queued == 2)
        #expect(s.inFlight == 4)
        #expect(s.immediateDesired == 3)
        #expect(s.desired == 3)
        #expect(s.lastScale?.reason == .queue)
        #expect(s.lastScale?.direction == .up)
        #expect(s.count(inState: "busy") == 1)
        #expect(s.count(inState: "starting") == 2)
        #expect(s.maxInstances == 256) // 64 GiB ÷ 256 MiB
        d.wait(.seconds(2))
        let later = d.snapshot
        #expect(later.oldestQueuedWait == .seconds(2))
        #expect(abs(later.stableAverageConcurrency - 6) < 1e-9)
        #expect(abs(later.stableAverageDemand - 3) < 1e-9)
        #expect(later.stableDesired == 3)
    }
}
