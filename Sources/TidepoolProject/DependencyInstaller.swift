import Foundation
import Logging

/// Puts a project's dependencies into `<project>/.venv`, made by the system
/// Python Tidepool embeds, and only when the manifest changed since the last
/// install (its fingerprint is kept in `.venv/.tidepool-deps-hash`): a
/// restart must not cost a pip run.
public struct DependencyInstaller: Sendable {
    /// What `install` did, for the user.
    public enum Action: Equatable, Sendable {
        /// Manifest unchanged since the last install.
        case upToDate
        /// pip ran (or the venv was made for an empty dependency list).
        case installed(createdVenv: Bool)
        /// No manifest; an existing compatible `.venv` with Flask is used as is.
        case usedExistingVenv
        /// No manifest; the system Python's own Flask is used, no venv.
        case systemPython
    }

    public struct Outcome: Equatable, Sendable {
        /// The venv the app runs with, nil for the bare system Python.
        public var venv: URL?
        public var action: Action
        /// Why an existing venv was thrown away, if it was.
        public var rebuiltBecause: String?
    }

    public static let hashFileName = ".tidepool-deps-hash"

    public var python: SystemPython
    /// Stream pip's output to stderr as it runs.
    public var echo: Bool

    public init(python: SystemPython = SystemPython(), echo: Bool = true) {
        self.python = python
        self.echo = echo
    }

    public func install(project: URL, manifest: DependencyManifest?, logger: Logger) throws -> Outcome {
        let venv = project.appendingPathComponent(".venv")
        var rebuiltBecause: String?
        if FileManager.default.fileExists(atPath: venv.path) {
            let expectedVersion = try python.version()
            if let reason = VenvInspector.incompatibility(venv: venv, expectedVersion: expectedVersion, expectedHome: python.home) {
                logger.warning("removing \(venv.path): \(reason); rebuilding it with \(python.executable)")
                try FileManager.default.removeItem(at: venv)
                rebuiltBecause = reason
            }
        }
        var venvExists = FileManager.default.fileExists(atPath: venv.appendingPathComponent("pyvenv.cfg").path)

        guard let manifest else {
            if venvExists, canImportFlask(venvPython: venv) {
                return Outcome(venv: venv, action: .usedExistingVenv, rebuiltBecause: rebuiltBecause)
            }
            guard python.canImport("flask") else {
                throw ProjectError.flaskNotAvailable(directory: project.path, python: python.executable)
            }
            return Outcome(venv: nil, action: .systemPython, rebuiltBecause: rebuiltBecause)
        }

        let fingerprint = try manifest.fingerprint(in: project)
        let hashFile = venv.appendingPathComponent(Self.hashFileName)
        if venvExists, (try? String(contentsOf: hashFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) == fingerprint {
            return Outcome(venv: venv, action: .upToDate, rebuiltBecause: rebuiltBecause)
        }
        // `python -m venv` installs pip last: a creation cut short (Ctrl-C on
        // the first start) leaves a venv pip cannot install into, which would
        // fail the same way on every start until removed by hand.
        if venvExists, manifest.pipArguments != nil,
           !SystemPython(executable: venv.appendingPathComponent("bin/python").path).canImport("pip") {
            let reason = "it has no working pip (was its creation cut short?)"
            logger.warning("removing \(venv.path): \(reason); rebuilding it with \(python.executable)")
            try FileManager.default.removeItem(at: venv)
            rebuiltBecause = reason
            venvExists = false
        }
        if !venvExists {
            logger.info("creating \(venv.path) with \(python.executable)")
            let made = try ProcessRunner.run(
                python.executable, ["-m", "venv", venv.path], directory: project,
                environment: ProcessRunner.cleanEnvironment(), echo: echo)
            guard made.status == 0 else {
                throw ProjectError.venvCreationFailed(path: venv.path, status: made.status, output: made.lastLines(40).joined(separator: "\n"))
            }
        }
        // A failed install must not leave a stale "up to date" marker behind.
        try? FileManager.default.removeItem(at: hashFile)
        if let arguments = manifest.pipArguments {
            logger.info("installing dependencies from \(manifest)")
            let pip = try ProcessRunner.run(
                venv.appendingPathComponent("bin/python").path,
                ["-m", "pip", "install", "--disable-pip-version-check", "--no-input"] + arguments,
                directory: project,
                environment: ProcessRunner.cleanEnvironment(["VIRTUAL_ENV": venv.path]),
                echo: echo)
            guard pip.status == 0 else {
                throw ProjectError.dependencyInstallFailed(
                    manifest: manifest.description, status: pip.status, output: pip.lastLines(40).joined(separator: "\n"))
            }
        }
        try Data((fingerprint + "\n").utf8).write(to: hashFile)
        return Outcome(venv: venv, action: .installed(createdVenv: !venvExists), rebuiltBecause: rebuiltBecause)
    }

    private func canImportFlask(venvPython venv: URL) -> Bool {
        SystemPython(executable: venv.appendingPathComponent("bin/python").path).canImport("flask")
    }
}

/// Reads `pyvenv.cfg` to tell whether a venv was made by the embedded Python.
/// A venv from another interpreter (pyenv's 3.11.7, a 3.12) would pair the
/// embedded libpython with a foreign stdlib and foreign compiled extensions.
public enum VenvInspector {
    /// Why the venv cannot be used, or nil when it matches.
    public static func incompatibility(venv: URL, expectedVersion: String, expectedHome: String) -> String? {
        let cfg = venv.appendingPathComponent("pyvenv.cfg")
        guard let text = try? String(contentsOf: cfg, encoding: .utf8) else {
            return "it has no readable pyvenv.cfg (not a virtualenv)"
        }
        let values = parse(text)
        let version = values["version"] ?? values["version_info"]
        guard let version else { return "its pyvenv.cfg records no Python version" }
        guard version == expectedVersion else {
            return "it was made by Python \(version), but Tidepool embeds Python \(expectedVersion)"
        }
        if let home = values["home"], resolve(home) != resolve(expectedHome) {
            return "it was made by the Python in \(home), not the system Python in \(expectedHome)"
        }
        return nil
    }

    /// `key = value` lines.
    static func parse(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            values[parts[0].trimmingCharacters(in: .whitespaces)] = parts[1].trimmingCharacters(in: .whitespaces)
        }
        return values
    }

    private static func resolve(_ path: String) -> String {
        URL(fileURLWithPath: path).resolvingSymlinksInPath().path
    }
}
