import Foundation
import LoadCore
import Testing

@Suite struct ScenarioFileTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../LoadTests/scenarios").standardized

    @Test(arguments: ["steady", "ramp", "spike", "sawtooth", "diurnal", "cpu-vs-io"])
    func bundledScenarioParses(_ name: String) throws {
        let path = Self.directory.appendingPathComponent("\(name).toml").path
        let scenario = try ScenarioFile.parse(try String(contentsOfFile: path, encoding: .utf8), file: path)
        #expect(scenario.name == name)
        #expect(!scenario.phases.isEmpty && scenario.durationSeconds > 0)
        #expect(scenario.phases.allSatisfy { !$0.routes.routes.isEmpty })
    }

    @Test func spikeHasIdleBurstIdle() throws {
        let path = Self.directory.appendingPathComponent("spike.toml").path
        let s = try ScenarioFile.parse(try String(contentsOfFile: path, encoding: .utf8), file: path)
        let rates = s.phases.map { $0.rate(atOffset: 0) }
        #expect(rates.count == 3 && rates[1] > 10 * rates[0] && rates[1] > 10 * rates[2])
    }

    @Test func readsEveryKey() throws {
        let s = try ScenarioFile.parse("""
            name = "x"
            seed = 9
            timeout = 5
            connections = 8
            routes = [{ path = "/a", weight = 2 }, { path = "/b" }]
            [[phases]]
            duration = 2
            rate = 10
            rate_end = 20
            arrival = "poisson"
            [[phases]]
            name = "users"
            duration = 1.5
            users = 3
            think_ms = 100
            routes = [{ path = "/c" }]
            """, file: "x.toml")
        #expect(s.seed == 9 && s.timeoutSeconds == 5 && s.maxConnections == 8)
        #expect(s.phases[0].load == .rate(from: 10, to: 20, arrival: .poisson))
        #expect(s.phases[0].routes == RouteMix([.init(path: "/a", weight: 2), .init(path: "/b", weight: 1)]))
        #expect(s.phases[1].load == .users(count: 3, thinkSeconds: 0.1))
        #expect(s.phases[1].name == "users" && s.phases[1].routes.routes.map(\.path) == ["/c"])
        #expect(s.durationSeconds == 3.5)
    }

    @Test(arguments: [
        ("[[phases]]\nduration = 1\nrate = 1", "routes"),
        ("routes = [{ path = \"/a\" }]\n[[phases]]\nduration = 1", "rate"),
        ("routes = [{ path = \"/a\" }]\n[[phases]]\nduration = 1\nrate = 1\nusers = 2", "exclude"),
        ("routes = [{ path = \"/a\" }]\n[[phases]]\nduration = 1\nrate = 1\narrival = \"bursty\"", "poisson"),
        ("routes = [{ path = \"a\" }]\n[[phases]]\nduration = 1\nrate = 1", "must start with /"),
        ("routes = [{ path = \"/a\" }]\nrate = 3\n[[phases]]\nduration = 1\nrate = 1", "unknown key `rate`"),
        ("routes = [{ path = \"/a\" }]\n[[phases]]\nduration = -1\nrate = 1", "phases[0].duration"),
        ("routes = [", "not valid TOML"),
    ])
    func badFilesNameTheKey(_ text: String, _ fragment: String) {
        do {
            _ = try ScenarioFile.parse(text, file: "bad.toml")
            Issue.record("parsed: \(text)")
        } catch {
            #expect("\(error)".contains(fragment), "\(error)")
            #expect("\(error)".contains("bad.toml"))
        }
    }
}
