import Testing
@testable import TidepoolCore

/// How the pool grows: at once when a request waits, counting starting
/// instances as capacity, around CPU-saturated instances, in panic, for spares,
/// and within `maxStartsInFlight` and `maxInstances`.
@Suite struct SchedulerGrowthTests {
    /// Instances that cover `demand` requests at the target utilisation.
    static func needed(_ demand: Int, slots: Int, utilisation: Double) -> Int {
        Int((Double(demand) / (Double(slots) * utilisation)).rounded(.up))
    }

    @Test func theFirstTickStartsMinInstances() throws {
        var d = try Driver { $0.minInstances = 2 }
        let actions = d.tick()
        #expect(actions == [.start(InstanceID(1), reason: .minimum), .start(InstanceID(2), reason: .minimum)])
        #expect(d.tick().isEmpty) // starting instances count: no second start
    }

    @Test func growthCountsStartingInstancesAsCapacity() throws {
        let slots = 4, utilisation = 0.7
        var d = try Driver {
            $0.maxConcurrency = slots
            $0.targetUtilisation = utilisation
        }
        d.boot()
        d.arrive(1...4) // fills i1, nothing waits
        #expect(d.log.starts.count == 1)

        // Each waiting request asks, in the same call, for exactly the instances
        // that cover in-flight + queued; starting ones already count.
        for n in 5...20 {
            let actions = d.arrive(UInt64(n))
            #expect(actions.dispatches.isEmpty)
            let total = d.log.starts.count
            #expect(total == Self.needed(n, slots: slots, utilisation: utilisation), "after request \(n)")
            #expect(actions.starts.allSatisfy { $0.reason == .queue })
        }
        // Nothing more on a tick: capacity already covers the demand.
        #expect(d.tick().starts.isEmpty)

        // They become ready: the queue drains FIFO onto them.
        let ready = d.readyAllStarting()
        #expect(ready.dispatches.map(\.request.rawValue) == Array(5...20))
        #expect(d.scheduler.queue.isEmpty)
    }

    @Test(arguments: [
        (maxStartsInFlight: 16, maxInstances: 64),
        (maxStartsInFlight: 3, maxInstances: 64),
        (maxStartsInFlight: 16, maxInstances: 5),
    ])
    func aBurstFromOneTo200StartsTheRightNumberAtOnce(maxStartsInFlight: Int, maxInstances: Int) throws {
        var d = try Driver {
            $0.maxStartsInFlight = maxStartsInFlight
            $0.maxInstances = maxInstances
        }
        d.boot()
        let config = d.config
        let actions = d.arrive(1...200) // all at the same instant, no tick

        let byFormula = Self.needed(200, slots: config.maxConcurrency, utilisation: config.targetUtilisation) - 1
        let expected = min(byFormula, maxStartsInFlight, maxInstances - 1)
        #expect(byFormula == 8) // ceil(200 / (32 × 0.7)) − the one running
        #expect(actions.starts.count == expected)
        #expect(actions.dispatched(to: 1).count == 32)
        #expect(d.scheduler.queue.count == 168)

        // As starts complete, the rest follow until the formula (or the cap) is met.
        for _ in 0..<10 {
            d.wait(.milliseconds(10))
            d.readyAllStarting()
        }
        #expect(d.scheduler.instances.count == min(byFormula + 1, maxInstances))
        #expect(d.log.starts.count - 1 == min(byFormula, maxInstances - 1)) // minus the boot start
    }

    @Test func saturationStopsPlacementAndScalesOut() throws {
        var d = try Driver { $0.saturationWindow = .seconds(2) }
        d.boot()
        d.stats(1, cpuTotal: .zero)
        d.arrive(1) // on i1
        d.wait(.seconds(1))
        d.stats(1, cpuTotal: .milliseconds(950)) // 95 % of a core: saturated
        #expect(d.scheduler.instances[InstanceID(1)]!.isSaturated(at: d.now, threshold: 0.9))

        // i1 has 31 free slots but its interpreter is pegged: r2 waits, and an
        // instance starts at once because of it.
        let actions = d.arrive(2)
        #expect(actions.dispatches.isEmpty)
        #expect(actions.starts.map(\.reason) == [.saturation])
        #expect(d.snapshot.instances[0].freeSlots == 0)

        // The new instance takes it.
        #expect(d.ready(2).dispatches.map(\.instance) == ids(2))
    }

    @Test func saturationIsAlsoSeenFromFinishedRequestsCPU() throws {
        var d = try Driver { $0.saturationWindow = .seconds(2) }
        d.boot()
        d.arrive(1, 2) // both on i1
        d.wait(.seconds(1))
        d.finish(1, cpu: .milliseconds(950), wall: .seconds(1)) // CPU-bound
        let actions = d.arrive(3)
        #expect(actions.dispatches.isEmpty)
        #expect(actions.starts.map(\.reason) == [.saturation])
    }

    @Test func aSaturatedInstanceLearnsALowerLimitAndNewInstancesInheritIt() throws {
        var d = try Driver {
            $0.maxConcurrency = 32
            $0.saturationWindow = .seconds(2) // limits change at most once a second
        }
        d.boot()
        d.stats(1, cpuTotal: .zero)
        d.arrive(1...8) // all on i1 before anything is known
        var cpu = Duration.zero
        var limits: [Int] = []
        for _ in 0..<4 {
            d.wait(.seconds(1))
            cpu += .seconds(1) // pegged the whole second
            d.stats(1, cpuTotal: cpu)
            limits.append(d.snapshot.instances[0].concurrencyLimit)
        }
        #expect(limits == [4, 2, 1, 1]) // halves from what it runs, down to one
        d.readyAllStarting() // the instances started meanwhile because of saturation
        #expect(d.log.starts.dropFirst().allSatisfy { $0.reason == .saturation })
        #expect(d.snapshot.instances.dropFirst().allSatisfy { $0.concurrencyLimit == 1 })

        // The work turns I/O-bound: the CPU share falls and the limit grows back.
        for n: UInt64 in 1...8 { d.finish(n) }
        d.arrive(9)
        let host = try #require(d.instance(of: 9))
        var grown: [Int] = []
        for _ in 0..<3 {
            d.wait(.seconds(1))
            cpu += .milliseconds(50)
            d.stats(host.rawValue, cpuTotal: cpu)
            d.tick()
            grown.append(d.scheduler.instances[host]!.slotLimit(slots: 32))
        }
        #expect(grown.last! > 1)
    }

    @Test func aLoneSaturatedInstanceStillServesWhenNothingElseCanStart() throws {
        var d = try Driver { $0.maxInstances = 1 }
        d.boot()
        d.stats(1, cpuTotal: .zero)
        d.arrive(1)
        d.wait(.seconds(1))
        d.stats(1, cpuTotal: .seconds(1))
        #expect(d.arrive(2).isEmpty) // waits; no start possible
        // When its work finishes it takes the next even though still saturated.
        #expect(d.finish(1).dispatches.map(\.request) == [RequestID(2)])
        // And once its share drops, it packs again.
        d.wait(.seconds(3))
        d.stats(1, cpuTotal: .seconds(1) + .milliseconds(100))
        #expect(d.arrive(3).dispatches.map(\.instance) == ids(1))
    }

    @Test func aShortCPUBurstIsNotSaturation() throws {
        // A fresh instance's first request imports lazily: 40 ms of CPU in
        // 40 ms. Too little busy time to call the interpreter pegged; taken as
        // saturation it held a pinned instance and serialized the concurrent
        // I/O-bound requests that followed (one at a time, 200 ms each).
        var d = try Driver {
            $0.minInstances = 1
            $0.maxInstances = 1
            $0.saturationWindow = .seconds(2)
        }
        d.boot()
        d.stats(1, cpuTotal: .zero)
        d.arrive(1)
        d.wait(.milliseconds(40))
        d.finish(1, cpu: .milliseconds(40), wall: .milliseconds(40))
        d.stats(1, cpuTotal: .milliseconds(40))
        d.wait(.milliseconds(10))
        #expect(d.arrive(2...9).dispatched(to: 1) == Array(2...9))
        // The same share over enough busy time is saturation.
        d.wait(.milliseconds(200))
        d.stats(1, cpuTotal: .milliseconds(240))  // 200 ms of CPU in the 200 ms since: share 1
        #expect(d.scheduler.instances[InstanceID(1)]!.isSaturated(at: d.now, threshold: 0.75))
    }

    @Test func panicScalesOnTheShortWindowAndHoldsThePool() throws {
        // Utilisation 0.4: one instance's 32 slots are 2.5 instances of demand,
        // so panic can be reached without anything waiting in the queue.
        var d = try Driver {
            $0.targetUtilisation = 0.4
            $0.stableWindow = .seconds(20)
            $0.panicWindow = .seconds(2)
            $0.idleTimeout = .seconds(1)
        }
        d.boot()
        d.arrive(1...32)
        #expect(d.log.starts.count == 1) // nothing queued: no immediate growth
        d.wait(.milliseconds(500))
        let tick = d.tick()
        let expected = Self.needed(32, slots: 32, utilisation: 0.4) - 1
        #expect(tick.starts.count == expected)
        #expect(tick.starts.allSatisfy { $0.reason == .panic })
        #expect(d.snapshot.panicking)
        d.readyAllStarting()

        // The burst ends. The new instances idle past idleTimeout, but panic
        // does not scale down until a stable window after it last triggered.
        for n in 1...32 { d.finish(UInt64(n)) }
        let quiet = d.advance(.seconds(15))
        #expect(quiet.drains.isEmpty)
        #expect(d.snapshot.desired >= 3)
        let after = d.advance(.seconds(10))
        #expect(!d.snapshot.panicking)
        #expect(after.drains.count == 2)
        #expect(d.scheduler.instances.count == 1)
    }

    @Test func spareInstancesAreKeptAheadOfDemand() throws {
        var d = try Driver { $0.spareInstances = 1 }
        d.boot()
        #expect(d.scheduler.instances.count == 1) // no load: max(minInstances, 0 + spare)

        d.arrive(1)
        d.wait(.seconds(1))
        let tick = d.tick() // the stable window now sees demand: one spare on top
        #expect(tick.starts.map(\.reason) == [.spare])
        d.readyAllStarting()
        #expect(d.snapshot.count(inState: "idle") == 1)
        #expect(d.snapshot.count(inState: "busy") == 1)
    }

    @Test func eachStartNamesTheRuleThatAskedForIt() throws {
        var d = try Driver {
            $0.minInstances = 1
            $0.spareInstances = 2
        }
        #expect(d.tick().starts.map(\.reason) == [.minimum, .spare])
    }

    @Test func spareInstancesStayWithinMaxInstances() throws {
        var d = try Driver {
            $0.spareInstances = 3
            $0.maxInstances = 2
        }
        d.boot()
        d.arrive(1)
        d.advance(.seconds(5))
        #expect(d.scheduler.instances.count == 2)
    }

    @Test func classicModeUsesMoreInstancesForTheSameLoad() throws {
        func instancesFor(_ mode: SchedulerConfig.Mode) throws -> Int {
            var d = try Driver {
                $0.mode = mode
                $0.maxStartsInFlight = 64
            }
            d.boot()
            d.arrive(1...10) // ten concurrent long requests
            d.readyAllStarting()
            #expect(d.scheduler.queue.isEmpty)
            #expect(d.scheduler.instances.values.allSatisfy { $0.inFlight.count <= d.config.slotsPerInstance })
            return d.scheduler.instances.count
        }
        let fluid = try instancesFor(.fluid)
        let classic = try instancesFor(.classic)
        #expect(fluid == Self.needed(10, slots: 32, utilisation: 0.7)) // 1
        #expect(classic == Self.needed(10, slots: 1, utilisation: 0.7)) // 15
        #expect(classic > fluid)
    }

    @Test func classicModeUsesMoreInstanceSecondsInASimulation() throws {
        func run(_ mode: SchedulerConfig.Mode) throws -> LoadSimulation {
            var sim = LoadSimulation(driver: try Driver {
                $0.mode = mode
                $0.stableWindow = .seconds(10)
                $0.panicWindow = .seconds(1)
                $0.idleTimeout = .seconds(2)
            })
            sim.run(clients: 16, until: Instant.zero + .seconds(20))
            sim.run(clients: 0, until: Instant.zero + .seconds(60))
            #expect(sim.violations.isEmpty)
            #expect(sim.driver.log.rejects.isEmpty)
            #expect(sim.driver.scheduler.instances.count == 1) // back to minInstances
            return sim
        }
        let fluid = try run(.fluid)
        let classic = try run(.classic)
        #expect(classic.peakInstances > fluid.peakInstances)
        #expect(classic.instanceSeconds > 2 * fluid.instanceSeconds)
    }

    @Test func cpuBoundLoadSpreadsOverMoreInstancesThanTheSameIOBoundLoad() throws {
        func run(cpuBound: Bool) throws -> LoadSimulation {
            var sim = LoadSimulation(driver: try Driver())
            sim.cpuBound = cpuBound
            sim.serviceTime = .milliseconds(40) ... .milliseconds(60)
            sim.run(clients: 16, until: Instant.zero + .seconds(30))
            #expect(sim.violations.isEmpty)
            #expect(sim.driver.log.rejects.isEmpty)
            return sim
        }
        let io = try run(cpuBound: false)
        let cpu = try run(cpuBound: true)
        #expect(io.driver.scheduler.instances.count == 1) // 16 ≤ 32 × 0.7: packs into one
        #expect(cpu.driver.scheduler.instances.count > 4) // pegged interpreters: scale out
        #expect(cpu.driver.log.starts.contains { $0.reason == .saturation })
    }
}


extension Driver {
    var snapshot: SchedulerSnapshot { scheduler.snapshot(at: now) }
}
