import CTidepoolLinux
import Foundation

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
        // Foundation starts the child as the leader of a process group of its
        // own: a terminal's Ctrl-C reaches only us, and we pass it on.
        let pid = process.processIdentifier
        _ = tp_helper_group_add(pid)
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
        tp_helper_group_remove(pid)
        let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return Outcome(status: status, output: String(decoding: collected, as: UTF8.self))
    }

    /// Sends SIGTERM to the process group of every child `run` is waiting
    /// for (pip, the build command, and what they started): a host stopping
    /// while a redeploy prepares the project must not wait out an install or
    /// a build. Each `run` then returns its child's status (143). Returns how
    /// many children were signalled.
    @discardableResult
    public static func terminateRunning() -> Int {
        Int(tp_helper_groups_signal(SIGTERM))
    }

    /// Call once at start-up, before the first `run`: Ctrl-C (SIGINT),
    /// SIGTERM or SIGHUP then stops the running children too, instead of
    /// leaving an install or a build running on its own after we die. The
    /// host's event loop later takes these signals over (and calls
    /// `terminateRunning` itself when it stops).
    public static func stopChildrenWithUs() {
        tp_forward_stop_signals_to_helpers()
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
