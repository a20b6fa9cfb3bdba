import Foundation

/// Runs a child process (python -m venv, pip, the build command) with its
/// stdout and stderr merged, optionally echoing them live to our stderr, and
/// keeps the output so a failure can quote it. Blocking by design: this runs
/// in the host before it forks anything, where Foundation's `Process` is fine.
enum ProcessRunner {
    struct Outcome: Sendable {
        var status: Int32
        /// The whole merged output (bounded: the first bytes are dropped past 1 MB).
        var output: String
        /// Its last `count` non-empty lines.
        func lastLines(_ count: Int) -> [String] {
            Array(output.split(whereSeparator: \.isNewline).suffix(count).map(String.init))
        }
    }

    static func run(
        _ executable: String, _ arguments: [String], directory: URL? = nil,
        environment: [String: String]? = nil, echo: Bool
    ) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        if let environment { process.environment = environment }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let reader = pipe.fileHandleForReading
        var collected = Data()
        let limit = 1 << 20
        while true {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            if echo { FileHandle.standardError.write(chunk) }
            collected.append(chunk)
            if collected.count > limit { collected.removeFirst(collected.count - limit) }
        }
        process.waitUntilExit()
        let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return Outcome(status: status, output: String(decoding: collected, as: UTF8.self))
    }

    /// Our environment without variables that would point a child Python at
    /// another installation (pyenv and friends), plus `overrides`.
    static func cleanEnvironment(_ overrides: [String: String] = [:]) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        for key in ["PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "PYENV_VERSION", "VIRTUAL_ENV", "PIP_REQUIRE_VIRTUALENV"] {
            env.removeValue(forKey: key)
        }
        env.merge(overrides) { _, new in new }
        return env
    }
}
