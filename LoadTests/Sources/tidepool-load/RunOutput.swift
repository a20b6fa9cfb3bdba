import Foundation
import LoadCore

/// Runs a scenario once and turns the result into a `Report` (written to disk when `out` is set).
enum RunOutput {
    static func run(_ scenario: Scenario, target: Target, out: URL?, quiet: Bool = false) throws -> Summary {
        let startedAt = ISO8601DateFormatter().string(from: Date())
        let cpuBefore = Clock.cpuSeconds()
        let load = try LoadRun(scenario: scenario, target: target, progress: quiet ? nil : Progress.ifTerminal())
        let result = load.run()
        let rows = result.recorder.rows
        let pool = Summary.poolFigures(rows)
        var errorsByCode: [String: Int] = [:]
        for row in rows { errorsByCode.merge(row.errorsByCode, uniquingKeysWith: +) }
        let summary = Summary(
            scenario: scenario.name, target: target.description, startedAt: startedAt,
            durationSeconds: result.duration,
            sent: rows.reduce(0) { $0 + $1.sent },
            completed: rows.reduce(0) { $0 + $1.completed },
            errors: rows.reduce(0) { $0 + $1.errors },
            errorsByCode: errorsByCode,
            latencyMs: .init(result.recorder.total),
            lateSends: rows.reduce(0) { $0 + $1.lateSends },
            maxLatenessMs: result.recorder.maxLatenessSeconds * 1000,
            connectionWaits: rows.reduce(0) { $0 + $1.connectionWaits },
            generatorCPUSeconds: Clock.cpuSeconds() - cpuBefore,
            peakInstances: pool.peak, meanInstances: pool.mean, instanceSeconds: pool.seconds,
            coldStarts: rows.reduce(0) { $0 + $1.coldStarts },
            activeCPUSeconds: result.observer.increase(\.activeCPUSeconds),
            gbSeconds: result.observer.increase(\.gbSeconds),
            scheduler: result.observer.hasScheduler, minInstances: result.observer.minInstances,
            finalInstances: pool.final
        )
        if let out {
            let report = Report(summary: summary, rows: rows, scenario: scenario)
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            try report.summaryJSON().write(to: out.appendingPathComponent("summary.json"))
            try Data(report.timelineCSV().utf8).write(to: out.appendingPathComponent("timeline.csv"))
            try Data(report.html().utf8).write(to: out.appendingPathComponent("report.html"))
        }
        return summary
    }

    /// Finds a scenario by name in LoadTests/scenarios (next to the repository) or as a path.
    static func loadScenario(_ nameOrPath: String, directory: String?) throws -> Scenario {
        let fm = FileManager.default
        var candidates = [nameOrPath]
        let dirs = [directory, "LoadTests/scenarios", scenariosNextToExecutable()].compactMap { $0 }
        for dir in dirs {
            candidates.append("\(dir)/\(nameOrPath)")
            candidates.append("\(dir)/\(nameOrPath).toml")
        }
        for path in candidates where fm.fileExists(atPath: path) && !path.hasSuffix("/") {
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            let text = try String(contentsOfFile: path, encoding: .utf8)
            return try ScenarioFile.parse(text, file: path)
        }
        let known = dirs.flatMap { (try? fm.contentsOfDirectory(atPath: $0)) ?? [] }
            .filter { $0.hasSuffix(".toml") }.map { String($0.dropLast(5)) }
        throw LoadError.scenarioNotFound(nameOrPath, Array(Set(known)).sorted())
    }

    /// The nearest `LoadTests/scenarios` above the executable (it lives in `<repo>/.build/…`).
    private static func scenariosNextToExecutable() -> String? {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        while dir.path != "/" {
            let candidate = dir.appendingPathComponent("LoadTests/scenarios")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate.path }
            dir = dir.deletingLastPathComponent()
        }
        return nil
    }
}
