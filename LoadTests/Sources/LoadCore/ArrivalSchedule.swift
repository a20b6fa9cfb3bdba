import Foundation

/// SplitMix64: small, fast, seedable; good enough for arrival gaps and route choice.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}

/// The open-loop send times of a scenario, in seconds from the start, computed
/// ahead of the clock: the generator sends each one when it falls due whether
/// or not earlier requests have returned, and measures latency from it.
///
/// Closed-loop phases yield no arrivals (their users pace themselves); the
/// schedule skips to the next open-loop phase.
public struct ArrivalSchedule: Sendable {
    public struct Send: Sendable, Equatable {
        public let time: Double
        public let path: String
        public let phase: Int
    }

    private let scenario: Scenario
    private var random: SeededRandom
    private var clock = 0.0

    public init(_ scenario: Scenario) {
        self.scenario = scenario
        self.random = SeededRandom(seed: scenario.seed)
    }

    /// The next send, or nil when the scenario's open-loop phases are over.
    public mutating func next() -> Send? {
        while let (index, start) = scenario.phase(at: clock) {
            let phase = scenario.phases[index]
            let end = start + phase.durationSeconds
            guard case .rate(_, _, let arrival) = phase.load else {
                clock = end
                continue
            }
            let rate = phase.rate(atOffset: clock - start)
            guard rate > 0 else {
                // Nothing at a zero rate: move on in small steps so a ramp from 0 starts on time.
                clock = min(end, clock + 0.01)
                continue
            }
            let gap: Double
            switch arrival {
            case .constant: gap = 1 / rate
            case .poisson: gap = -Foundation.log1p(-random.unit()) / rate
            }
            let time = clock + gap
            if time >= end {
                // The draw crossed into the next phase: restart there (memoryless for Poisson;
                // for constant arrivals the next phase starts its own grid).
                clock = end
                continue
            }
            clock = time
            return Send(time: time, path: phase.routes.pick(random.unit()), phase: index)
        }
        return nil
    }

    /// A route for a closed-loop user's next request, drawn from the same seeded stream.
    public mutating func pickRoute(phase: Int) -> String {
        scenario.phases[phase].routes.pick(random.unit())
    }
}
