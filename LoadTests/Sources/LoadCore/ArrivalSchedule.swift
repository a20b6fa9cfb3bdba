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

    /// Arrival "work" still to cover before the next send: 1 for constant arrivals,
    /// an Exp(1) draw for Poisson. Sends fall where the integral of the rate
    /// reaches it (a time-changed process), so ramps — even from 0 — are exact.
    private var remaining: Double?

    /// The next send, or nil when the scenario's open-loop phases are over.
    public mutating func next() -> Send? {
        while let (index, start) = scenario.phase(at: clock) {
            let phase = scenario.phases[index]
            let end = start + phase.durationSeconds
            guard case .rate(let from, let to, let arrival) = phase.load else {
                clock = end
                remaining = nil
                continue
            }
            let work = remaining ?? (arrival == .constant ? 1 : -log1p(-random.unit()))
            let rate = phase.rate(atOffset: clock - start)
            let slope = (to - from) / phase.durationSeconds
            // Solve rate·Δ + slope·Δ²/2 = work for Δ (stable form, valid for any slope sign).
            let root = rate * rate + 2 * slope * work
            let denominator = rate + (root > 0 ? root.squareRoot() : 0)
            let delta = root >= 0 && denominator > 0 ? 2 * work / denominator : .infinity
            if clock + delta >= end {
                // Not reached in this phase: carry what is left of the work into the next one.
                let span = end - clock
                remaining = max(0, work - (rate * span + slope * span * span / 2))
                clock = end
                continue
            }
            remaining = nil
            clock += delta
            return Send(time: clock, path: phase.routes.pick(random.unit()), phase: index)
        }
        return nil
    }

    /// A route for a closed-loop user's next request, drawn from the same seeded stream.
    public mutating func pickRoute(phase: Int) -> String {
        scenario.phases[phase].routes.pick(random.unit())
    }
}
