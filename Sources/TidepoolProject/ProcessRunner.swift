import Foundation
import Synchronization

/// Runs a child process (python -m venv, pip, the build command) with its
/// stdout and stderr merged, optionally echoing them live to our stderr, and
/// keeps the output so a failure can quote it. Blocking by design: this runs
/// before the host forks anything, or on a redeploy's preparation thread
/// (`PreparationThread`), where Foundation's `Process` is fine.
public enum ProcessRunner {
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
        // Foundation starts the child as the leader of a process group of its own.
        let pid = process.processIdentifier
        running.withLock { _ = $0.insert(pid) }
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
        running.withLock { _ = $0.remove(pid) }
        let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return Outcome(status: status, output: String(decoding: collected, as: UTF8.self))
    }

    /// The children `run` is waiting for now (their pids, which are also their process groups).
    private static let running = Mutex<Set<Int32>>([])

    /// Sends SIGTERM to the process group of every child `run` is waiting
    /// for (pip, the build command, and what they started): a host stopping
    /// while a redeploy prepares the project must not wait out an install or
    /// a build. Each `run` then returns its child's status (143). Returns how
    /// many children were signalled.
    @discardableResult
    public static func terminateRunning() -> Int {
        running.withLock { pids in
            for pid in pids where kill(-pid, SIGTERM) != 0 { kill(pid, SIGTERM) }
            return pids.count
        }
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
