import Testing
@testable import TidepoolCore

/// How the pool shrinks: idle instances drain least recently used first, never
/// below `minInstances`, only when the stable window agrees, never with work
/// in flight, and not at all under a steady load.
@Suite struct SchedulerShrinkTests {
    @Test func idleInstancesDrainLeastRecentlyUsedFirstDownToMinInstances() throws {
        var d = try Driver {
            $0.maxConcurrency = 2
            $0.targetUtilisation = 1
            $0.idleTimeout = .seconds(5)
            $0.stableWindow = .seconds(10)
            $0.panicWindow = .seconds(1)
        }
        d.boot()
        d.arrive(1...8) // i1 takes 2; 6 wait: 8 ÷ 2 = 4 instances
        #expect(d.log.starts.count == 4)
        d.wait(.milliseconds(100))
        d.readyAllStarting()
        #expect(d.scheduler.queue.isEmpty)

        // Last use: i3 at t+1, i2 at t+2, i4 at t+3, i1 at t+4.
        for instance in [3, 2, 4, 1] {
            d.wait(.seconds(1))
            let requests = d.scheduler.instances[InstanceID(instance)]!.inFlight.map(\.rawValue)
            for request in requests { d.finish(request) }
        }
        let actions = d.advance(.seconds(60))
        #expect(actions.drains.map(\.instance) == ids(3, 2, 4))
        #expect(actions.drains.allSatisfy { $0.reason == .idle })
        #expect(actions.stops == ids(3, 2, 4))
        #expect(d.scheduler.instances.keys.sorted() == ids(1)) // minInstances
        #expect(d.snapshot.lastScale?.direction == .down)
    }

    @Test func idleInstancesAreNotDrainedWhileTheStableWindowStillNeedsThem() throws {
        var d = try Driver {
            $0.maxConcurrency = 2
            $0.targetUtilisation = 1
            $0.idleTimeout = .seconds(2)
            $0.stableWindow = .seconds(30)
            $0.panicWindow = .seconds(1)
        }
        d.boot()
        d.arrive(1...4) // 2 on i1, 2 wait → i2
        d.readyAllStarting()
        #expect(d.scheduler.instances.count == 2)
        // i2's work ends quickly, i1 keeps 2 running: stable demand ≈ 1–2 instances.
        d.wait(.milliseconds(100))
        for request in d.scheduler.instances[InstanceID(2)]!.inFlight.map(\.rawValue) { d.finish(request) }
        // i2 is idle far past idleTimeout, but the stable window (average ≈ 1
        // instance of demand ÷ 0.9 hysteresis → 2) still asks for two.
        let early = d.advance(.seconds(10))
        #expect(early.drains.isEmpty)
        #expect(d.snapshot.keep == 2)
        // When i1's requests end too, the average falls and i2 goes.
        for request in d.scheduler.instances[InstanceID(1)]!.inFlight.map(\.rawValue) { d.finish(request) }
        let later = d.advance(.seconds(40))
        #expect(later.drains.map(\.instance) == ids(2))
        #expect(d.scheduler.instances.keys.sorted() == ids(1))
    }

    @Test func drainComesBeforeStopAndStopOnlyWithNothingInFlight() throws {
        var d = try Driver {
            $0.minInstances = 0
            $0.idleTimeout = .seconds(1)
            $0.stableWindow = .seconds(2)
            $0.panicWindow = .seconds(1)
        }
        d.tick()
        d.arrive(1) // starts i1 (queue) since minInstances is 0
        d.ready(1)
        d.wait(.seconds(1))
        d.finish(1)
        let actions = d.advance(.seconds(10))
        #expect(actions == [.drain(InstanceID(1), reason: .idle), .stop(InstanceID(1))])
        #expect(d.scheduler.instances.isEmpty) // scaled to zero, as configured
        // An instanceDied for the stopped process is ignored.
        #expect(d.died(1).isEmpty)
        // The next request starts one again.
        #expect(d.arrive(2).starts.map(\.reason) == [.queue])
    }

    @Test func aDrainingInstanceIsStoppedOnlyAfterItsLastRequestFinishes() throws {
        var d = try Driver {
            $0.minInstances = 2
            $0.maxDuration = .seconds(10)
            $0.stuckGrace = .seconds(5)
        }
        d.boot()
        d.arrive(1) // on i1 (ties → lowest id; both ready at the same time)
        let host = try #require(d.instance(of: 1))
        d.advance(.seconds(8))
        d.arrive(2) // same instance (busiest)
        d.advance(.seconds(7)) // r1 stuck: drain; r2 is within its deadline
        #expect(d.log.drains.map(\.instance) == [host])
        #expect(d.log.stops.isEmpty && d.log.kills.isEmpty)
        d.wait(.seconds(1))
        #expect(d.finish(2).stops.isEmpty) // r1 still running on it (past its 504)
        // With only a 504'd request left, the stuck instance is killed, not stopped.
        #expect(d.log.kills == [host])
    }

    @Test func noFlappingUnderASteadyLoadForTenStableWindows() throws {
        var sim = LoadSimulation(driver: try Driver())
        let config = sim.driver.config
        sim.serviceTime = .milliseconds(400) ... .milliseconds(600)
        sim.thinkTime = .zero ... .milliseconds(200)
        sim.tickEvery = .seconds(1)
        // Warm-up: one stable window.
        let warmUp = Instant.zero + config.stableWindow
        sim.run(clients: 60, until: warmUp)
        let poolAfterWarmUp = sim.driver.scheduler.instances.count
        #expect(poolAfterWarmUp >= 3)

        sim.run(clients: 60, until: warmUp + config.stableWindow * 10)
        let changes = sim.actions(since: warmUp).filter {
            switch $0 {
            case .start, .drain, .stop, .kill: true
            default: false
            }
        }
        #expect(changes.isEmpty)
        #expect(sim.driver.scheduler.instances.count == poolAfterWarmUp)
        #expect(sim.violations.isEmpty)
        #expect(sim.driver.log.rejects.isEmpty)
        #expect(sim.completed > 60 * 600)
    }

    @Test func theSameLoadStepsDownWhenItHalves() throws {
        var sim = LoadSimulation(driver: try Driver {
            $0.stableWindow = .seconds(20)
            $0.panicWindow = .seconds(2)
            $0.idleTimeout = .seconds(10)
        })
        sim.tickEvery = .seconds(1)
        sim.run(clients: 100, until: Instant.zero + .seconds(40))
        let big = sim.driver.scheduler.instances.count
        sim.run(clients: 30, until: Instant.zero + .seconds(120))
        let small = sim.driver.scheduler.instances.count
        #expect(small < big)
        #expect(small >= 1)
        #expect(sim.violations.isEmpty)
    }
}
