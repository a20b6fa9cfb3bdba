import Foundation
import LoadCore
import Testing

@Suite struct ArrivalScheduleTests {
    private func scenario(rate: Double, to: Double? = nil, arrival: Arrival, seconds: Double = 10, seed: UInt64 = 1) -> Scenario {
        Scenario(name: "t", seed: seed, phases: [
            Phase(name: "p", durationSeconds: seconds, load: .rate(from: rate, to: to ?? rate, arrival: arrival),
                  routes: RouteMix([.init(path: "/a")]))
        ])
    }

    private func times(_ s: Scenario) -> [Double] {
        var schedule = ArrivalSchedule(s)
        var out: [Double] = []
        while let send = schedule.next() { out.append(send.time) }
        return out
    }

    @Test func constantArrivalsAreEvenlySpaced() {
        let t = times(scenario(rate: 50, arrival: .constant, seconds: 2))
        #expect((99...100).contains(t.count))  // 0.02, 0.04, … (2.0 itself is past the end, give or take rounding)
        for (a, b) in zip(t, t.dropFirst()) { #expect(abs((b - a) - 0.02) < 1e-9) }
    }

    @Test func poissonGapsHaveMeanAndSpreadOfAnExponential() {
        // Over 20 seeds × ~2000 gaps: mean gap 1/rate, standard deviation ≈ mean (coefficient of variation 1).
        var gaps: [Double] = []
        var counts: [Double] = []
        for seed in 1...20 {
            let t = times(scenario(rate: 200, arrival: .poisson, seconds: 10, seed: UInt64(seed)))
            counts.append(Double(t.count))
            gaps += zip(t, t.dropFirst()).map { $1 - $0 }
        }
        let mean = gaps.reduce(0, +) / Double(gaps.count)
        let sd = (gaps.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(gaps.count)).squareRoot()
        #expect(abs(mean - 0.005) / 0.005 < 0.02)
        #expect(abs(sd / mean - 1) < 0.05)
        // Counts per 10 s run: mean 2000, spread ≈ √2000 ≈ 45 (Poisson), far from constant's 0.
        let countMean = counts.reduce(0, +) / Double(counts.count)
        let countSD = (counts.map { ($0 - countMean) * ($0 - countMean) }.reduce(0, +) / Double(counts.count - 1)).squareRoot()
        #expect(abs(countMean - 2000) < 60)
        #expect(countSD > 15 && countSD < 100)
    }

    @Test func sameSeedSameScheduleOtherSeedOther() {
        let a = times(scenario(rate: 100, arrival: .poisson, seed: 7))
        let b = times(scenario(rate: 100, arrival: .poisson, seed: 7))
        let c = times(scenario(rate: 100, arrival: .poisson, seed: 8))
        #expect(a == b)
        #expect(a != c)
    }

    @Test func rampSendsMoreLaterAndMatchesTheAverageRate() {
        let t = times(scenario(rate: 0, to: 200, arrival: .constant, seconds: 10))
        let firstHalf = t.filter { $0 < 5 }.count
        let secondHalf = t.count - firstHalf
        #expect(secondHalf > 2 * firstHalf)
        #expect(abs(Double(t.count) - 1000) < 30)  // mean rate 100 req/s × 10 s
    }

    @Test func closedLoopPhasesAreSkippedAndPhasesAreLabelled() {
        let s = Scenario(name: "t", phases: [
            Phase(name: "open", durationSeconds: 1, load: .rate(from: 10, to: 10, arrival: .constant), routes: RouteMix([.init(path: "/a")])),
            Phase(name: "users", durationSeconds: 5, load: .users(count: 4, thinkSeconds: 0), routes: RouteMix([.init(path: "/b")])),
            Phase(name: "open", durationSeconds: 1, load: .rate(from: 10, to: 10, arrival: .constant), routes: RouteMix([.init(path: "/c")])),
        ])
        var schedule = ArrivalSchedule(s)
        var sends: [ArrivalSchedule.Send] = []
        while let send = schedule.next() { sends.append(send) }
        #expect((18...20).contains(sends.count))
        #expect(sends.allSatisfy { $0.time < 1 ? $0.path == "/a" && $0.phase == 0 : $0.time >= 6 && $0.path == "/c" && $0.phase == 2 })
    }

    @Test func routeMixFollowsWeights() {
        let mix = RouteMix([.init(path: "/x", weight: 3), .init(path: "/y", weight: 1)])
        var random = SeededRandom(seed: 3)
        var x = 0
        for _ in 0..<40_000 where mix.pick(random.unit()) == "/x" { x += 1 }
        #expect(abs(Double(x) / 40_000 - 0.75) < 0.01)
    }
}
