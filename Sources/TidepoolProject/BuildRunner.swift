import Foundation

/// The project's build step, chosen as Vercel chooses it and run after the
/// install, in the project directory, with the venv's `python` first on PATH.
public struct BuildStep: Equatable, Sendable {
    public enum Origin: String, Equatable, Sendable {
        case vercelJSON = "vercel.json buildCommand"
        case pyproject = "pyproject.toml [tool.vercel.scripts] build"
    }

    public var command: String
    public var origin: Origin

    public init(command: String, origin: Origin) {
        self.command = command
        self.origin = origin
    }

    /// `vercel.json` `buildCommand` wins over `[tool.vercel.scripts] build`;
    /// an empty `buildCommand` means "no build" (as on Vercel) and also wins.
    public static func resolve(vercel: VercelConfig?, pyproject: PyProject?) -> BuildStep? {
        if let command = vercel?.buildCommand {
            return command.trimmingCharacters(in: .whitespaces).isEmpty ? nil : BuildStep(command: command, origin: .vercelJSON)
        }
        if let command = pyproject?.vercelBuildScript, !command.trimmingCharacters(in: .whitespaces).isEmpty {
            return BuildStep(command: command, origin: .pyproject)
        }
        return nil
    }
}

/// Runs a `BuildStep` through `/bin/sh -c`, streaming its output, and turns a
/// non-zero exit into `ProjectError.buildFailed` with the last lines quoted.
public enum BuildRunner {
    /// How many lines of output a failure quotes.
    public static let quotedLines = 20

    public static func run(_ step: BuildStep, in project: URL, venv: URL?, echo: Bool = true) throws {
        var overrides: [String: String] = [:]
        if let venv {
            let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
            overrides["PATH"] = venv.appendingPathComponent("bin").path + ":" + path
            overrides["VIRTUAL_ENV"] = venv.path
        }
        let outcome: ProcessRunner.Outcome
        do {
            outcome = try ProcessRunner.run(
                "/bin/sh", ["-c", step.command], directory: project,
                environment: ProcessRunner.cleanEnvironment(overrides), echo: echo)
        } catch {
            throw ProjectError.buildNotStarted(command: step.command, reason: "\(error)")
        }
        guard outcome.status == 0 else {
            throw ProjectError.buildFailed(command: step.command, status: outcome.status, lastLines: outcome.lastLines(quotedLines))
        }
    }
}
