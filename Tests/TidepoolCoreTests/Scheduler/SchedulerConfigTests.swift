import Testing
@testable import TidepoolCore

/// Defaults, validation naming the key, and `maxInstances` from memory.
@Suite struct SchedulerConfigTests {
    @Test func defaultsAreTheDocumentedOnes() {
        let c = SchedulerConfig()
        #expect(c.mode == .fluid)
        #expect(c.minInstances == 1)
        #expect(c.maxInstances == nil)
        #expect(c.spareInstances == 0)
        #expect(c.maxConcurrency == 32)
        #expect(c.targetUtilisation == 0.7)
        #expect(c.stableWindow == .seconds(60))
        #expect(c.panicWindow == .seconds(6))
        #expect(c.panicThreshold == 2)
        #expect(c.idleTimeout == .seconds(60))
        #expect(c.maxDuration == .seconds(300))
        #expect(c.saturationThreshold == 0.75)
        #expect(c.saturationWindow == .seconds(2))
        #expect(c.validate(machineMemoryBytes: 8 << 30).isEmpty)
        #expect(c.slotsPerInstance == 32)
    }

    @Test func classicModeHasOneSlot() {
        var c = SchedulerConfig()
        c.mode = .classic
        #expect(c.slotsPerInstance == 1)
        #expect(SchedulerConfig.Mode(rawValue: "classic") == .classic)
        #expect(SchedulerConfig.Mode(rawValue: "Fluid") == nil)
    }

    @Test func maxInstancesIsDerivedFromMemory() {
        var c = SchedulerConfig()
        c.instanceMemoryMB = 256
        #expect(c.resolvedMaxInstances(machineMemoryBytes: 8 << 30) == 32)
        #expect(c.resolvedMaxInstances(machineMemoryBytes: 100 << 20) == 1) // at least one
        c.maxInstances = 5
        #expect(c.resolvedMaxInstances(machineMemoryBytes: 8 << 30) == 5)
    }

    static func with(_ change: (inout SchedulerConfig) -> Void) -> SchedulerConfig {
        var c = SchedulerConfig()
        change(&c)
        return c
    }

    /// One bad value per case, and the key its error must name.
    static let invalid: [(SchedulerConfig.Key, SchedulerConfig)] = [
        (.minInstances, with { $0.minInstances = -1 }),
        (.maxInstances, with { $0.maxInstances = 0 }),
        (.maxInstances, with { $0.minInstances = 4; $0.maxInstances = 3 }),
        (.spareInstances, with { $0.spareInstances = -1 }),
        (.maxConcurrency, with { $0.maxConcurrency = 0 }),
        (.targetUtilisation, with { $0.targetUtilisation = 0 }),
        (.targetUtilisation, with { $0.targetUtilisation = 1.5 }),
        (.targetUtilisation, with { $0.targetUtilisation = .nan }),
        (.stableWindow, with { $0.stableWindow = .zero }),
        (.panicWindow, with { $0.panicWindow = .zero }),
        (.panicWindow, with { $0.panicWindow = .seconds(61) }),
        (.panicThreshold, with { $0.panicThreshold = 0.5 }),
        (.idleTimeout, with { $0.idleTimeout = .seconds(-1) }),
        (.queueDepth, with { $0.queueDepth = -1 }),
        (.queueTimeout, with { $0.queueTimeout = .zero }),
        (.maxDuration, with { $0.maxDuration = .zero }),
        (.stuckGrace, with { $0.stuckGrace = .seconds(-1) }),
        (.maxStartsInFlight, with { $0.maxStartsInFlight = 0 }),
        (.saturationThreshold, with { $0.saturationThreshold = 0 }),
        (.saturationWindow, with { $0.saturationWindow = .zero }),
        (.instanceMemoryMB, with { $0.instanceMemoryMB = 0 }),
    ]

    @Test(arguments: invalid)
    func anInvalidValueIsReportedWithItsKey(key: SchedulerConfig.Key, config: SchedulerConfig) {
        let errors = config.validate(machineMemoryBytes: 8 << 30)
        #expect(errors.map(\.key).contains(key))
        // (A zero stable window also makes the panic window longer than it.)
        #expect(errors.allSatisfy { $0.key == key || $0.key == .panicWindow })
        #expect(errors.first?.description.hasPrefix(key.rawValue + ": ") == true)
    }

    @Test func tooLittleMemoryForMinInstancesIsAnError() {
        var c = SchedulerConfig()
        c.minInstances = 4
        c.instanceMemoryMB = 1024
        #expect(c.validate(machineMemoryBytes: 2 << 30).map(\.key) == [.maxInstances])
        #expect(c.validate().isEmpty) // memory unknown: not checked
    }

    @Test func theSchedulerRefusesAnInvalidConfig() {
        var c = SchedulerConfig()
        c.maxConcurrency = 0
        #expect(throws: SchedulerConfig.ValidationError(key: .maxConcurrency, reason: "must be at least 1")) {
            _ = try Scheduler(config: c, machineMemoryBytes: 8 << 30)
        }
    }

    @Test func everyKeyHasAUnitAndTheTickIntervalIsSane() {
        #expect(SchedulerConfig.Key.allCases.count == 18)
        #expect(SchedulerConfig.Key.allCases.allSatisfy { !$0.unit.isEmpty })
        let tick = SchedulerConfig().suggestedTickInterval
        #expect(tick >= .milliseconds(250) && tick <= .seconds(1))
    }
}
