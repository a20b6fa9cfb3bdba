import ArgumentParser
import Foundation
import LoadCore

/// `tidepool-load SCENARIO --target URL [--out DIR]`, or `--compare A,B` against
/// two targets or two hosts it starts itself.
@main
struct LoadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tidepool-load",
        abstract: "Open-loop load generator that records how a Tidepool pool scales.",
        discussion: """
            SCENARIO is a name in LoadTests/scenarios (steady, ramp, spike, sawtooth, diurnal, cpu-vs-io) \
            or a path to a scenario .toml file. Latency counts from each request's scheduled send time.
            """
    )

    @Argument(help: "Scenario name (in LoadTests/scenarios) or path to a .toml file.")
    var scenario: String

    @Option(help: "Base URL of the app, e.g. http://127.0.0.1:3000. Give two with --compare to compare hosts you started.")
    var target: [String] = []

    @Option(help: "Directory for summary.json, timeline.csv and report.html (with --compare: one subdirectory per run).")
    var out: String?

    @Option(help: "Directory to look up scenario names in (default: LoadTests/scenarios).")
    var scenarios: String?

    @Option(help: "Override the scenario's seed.")
    var seed: UInt64?

    @Option(help: "Compare two runs side by side, e.g. fluid,classic (modes of a tidepool started with --tidepool/--project, or labels for two --target).")
    var compare: String?

    @Option(help: "tidepool binary for --compare (default: .build/release/tidepool).")
    var tidepool: String = ".build/release/tidepool"

    @Option(help: "Project directory tidepool serves for --compare.")
    var project: String = "examples/flask"

    @Option(parsing: .unconditionalSingleValue, help: "Extra argument for `tidepool serve` with --compare (repeatable), e.g. --serve-arg=--idle-timeout --serve-arg=5.")
    var serveArg: [String] = []

    mutating func run() throws {
        do {
            var loaded = try RunOutput.loadScenario(scenario, directory: scenarios)
            if let seed { loaded.seed = seed }
            if let compare {
                try runCompare(loaded, labels: compare.split(separator: ",").map(String.init))
            } else {
                guard target.count == 1 else { throw LoadError.usage("give exactly one --target URL (two only with --compare)") }
                let summary = try RunOutput.run(loaded, target: try Target(target[0]), out: out.map { URL(fileURLWithPath: $0) })
                print(SummaryTable.render(summary), terminator: "")
                if let out { print("report: \(out)/report.html") }
            }
        } catch LoadError.usage(let why) {
            throw ValidationError(why)
        } catch let error as LoadError {
            FileHandle.standardError.write(Data("tidepool-load: \(error.description)\n".utf8))
            throw ExitCode.failure
        } catch let error as ScenarioError {
            FileHandle.standardError.write(Data("tidepool-load: \(error.description)\n".utf8))
            throw ExitCode.failure
        }
    }

    private func runCompare(_ scenario: Scenario, labels: [String]) throws {
        guard labels.count == 2 else { throw LoadError.usage("--compare takes two names, e.g. fluid,classic") }
        guard target.isEmpty || target.count == 2 else {
            throw LoadError.usage("--compare needs either two --target URLs or none (then it starts --tidepool itself)")
        }
        let outDirectory = URL(fileURLWithPath: out ?? "test-artifacts/load-compare")
        var runs: [(label: String, summary: Summary)] = []
        for (index, label) in labels.enumerated() {
            let runOut = outDirectory.appendingPathComponent(label)
            if target.count == 2 {
                runs.append((label, try RunOutput.run(scenario, target: try Target(target[index]), out: runOut)))
                continue
            }
            let host = try TidepoolLauncher.start(
                binary: tidepool, project: project, mode: label, extraArgs: serveArg, logDirectory: runOut)
            defer { host.stop() }
            FileHandle.standardError.write(Data("tidepool-load: \(label): tidepool \(host.how) at \(host.target)\n".utf8))
            runs.append((label, try RunOutput.run(scenario, target: try Target(host.target), out: runOut)))
        }
        let table = SummaryTable.compare(runs)
        print(table, terminator: "")
        try Data(table.utf8).write(to: outDirectory.appendingPathComponent("compare.txt"))
        print("reports: \(runs.map { outDirectory.appendingPathComponent($0.label).path + "/report.html" }.joined(separator: ", "))")
    }
}
