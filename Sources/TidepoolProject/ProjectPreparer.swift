import Foundation
import Logging
import TidepoolCore

/// Knobs for `ProjectPreparer.prepare`, shared by `tidepool build` and `serve`.
public struct PrepareOptions: Sendable {
    /// The bundle limit (Vercel's 250 MB by default).
    public var maxBundleBytes: Int64 = BundleCheck.defaultLimit
    /// false skips the build command (install and bundle check still run).
    public var runBuild: Bool = true
    /// Stream pip's and the build's output to stderr.
    public var echoOutput: Bool = true
    public var python: SystemPython = SystemPython()

    public init() {}
}

/// What preparation did, step by step, for `tidepool build` to print.
public struct PreparationReport: Sendable {
    public var appTarget: AppTarget
    public var install: DependencyInstaller.Outcome
    /// The build that ran, nil when there was none or it was skipped.
    public var build: BuildStep?
    public var bundle: BundleReport
    /// One line per step, in order.
    public var steps: [String]
}

/// install → build → bundle check: everything between "a directory" and
/// "an app the host can serve". One function so `build` and `serve` cannot
/// drift apart.
public enum ProjectPreparer {
    public static func prepare(_ project: Project, options: PrepareOptions = PrepareOptions(), logger: Logger) throws -> PreparationReport {
        var steps: [String] = []
        let entry = project.entrypoint
        steps.append("entrypoint: \(entry.file) → \(entry.module):\(entry.attribute) (from \(entry.origin))")

        let installer = DependencyInstaller(python: options.python, echo: options.echoOutput)
        let install = try installer.install(project: project.directory, manifest: project.dependencyManifest, logger: logger)
        if let reason = install.rebuiltBecause { steps.append("venv: rebuilt (\(reason))") }
        switch install.action {
        case .upToDate: steps.append("dependencies: up to date (\(project.dependencyManifest?.description ?? "-") unchanged)")
        case .installed(let created):
            steps.append("dependencies: installed from \(project.dependencyManifest?.description ?? "-")\(created ? " into a new .venv" : "")")
        case .usedExistingVenv: steps.append("dependencies: no manifest; using the existing .venv")
        case .systemPython: steps.append("dependencies: no manifest; Flask comes from \(options.python.executable)")
        }

        var ran: BuildStep?
        if let step = project.buildStep {
            if options.runBuild {
                logger.info("build: running `\(step.command)` (\(step.origin.rawValue))")
                try BuildRunner.run(step, in: project.directory, venv: install.venv, echo: options.echoOutput)
                steps.append("build: `\(step.command)` (\(step.origin.rawValue)) succeeded")
                ran = step
            } else {
                steps.append("build: skipped `\(step.command)` (--skip-build)")
            }
        } else {
            steps.append("build: none configured")
        }

        let bundle = try BundleCheck.check(project: project.directory, venv: install.venv, limit: options.maxBundleBytes)
        steps.append("bundle: \(ByteCount.format(bundle.total)) of \(ByteCount.format(options.maxBundleBytes)) allowed")

        return PreparationReport(
            appTarget: project.appTarget(venv: install.venv), install: install, build: ran, bundle: bundle, steps: steps)
    }
}
