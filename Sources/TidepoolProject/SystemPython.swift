import Foundation

/// The Python whose libpython Tidepool embeds: Debian's `/usr/bin/python3`.
/// Venvs must be made by it (a pyenv `python3` first on PATH would give a venv
/// whose stdlib and compiled extensions do not match the embedded interpreter).
public struct SystemPython: Equatable, Sendable {
    public var executable: String

    public init(executable: String = "/usr/bin/python3") {
        self.executable = executable
    }

    /// `3.11.2`, asked of the interpreter itself.
    public func version() throws -> String {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw ProjectError.systemPythonUnavailable(path: executable, reason: "not found or not executable")
        }
        let outcome: ProcessRunner.Outcome
        do {
            outcome = try ProcessRunner.run(
                executable, ["-I", "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                environment: ProcessRunner.cleanEnvironment(), echo: false)
        } catch {
            throw ProjectError.systemPythonUnavailable(path: executable, reason: "\(error)")
        }
        guard outcome.status == 0, let line = outcome.lastLines(1).first else {
            throw ProjectError.systemPythonUnavailable(path: executable, reason: outcome.output)
        }
        let version = line.trimmingCharacters(in: .whitespaces)
        // A venv is rebuilt when its recorded version differs: anything but a
        // version here (a wrapper's or a tracer's chatter) must stop, not
        // pass for a different Python and cost the user their venv.
        guard Self.isVersion(version) else {
            throw ProjectError.systemPythonUnavailable(
                path: executable, reason: "it printed \"\(version.prefix(200))\" where its version (like 3.11.2) belongs")
        }
        return version
    }

    /// `3.11.2`: three dot-separated decimal numbers.
    static func isVersion(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 3 && parts.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }
    }

    /// The directory a venv made by this Python records as `home` in pyvenv.cfg.
    public var home: String {
        URL(fileURLWithPath: executable).deletingLastPathComponent().path
    }

    /// Whether `python -c "import <module>"` succeeds (without user site-packages).
    public func canImport(_ module: String) -> Bool {
        let outcome = try? ProcessRunner.run(
            executable, ["-I", "-c", "import \(module)"], environment: ProcessRunner.cleanEnvironment(), echo: false)
        return outcome?.status == 0
    }
}
