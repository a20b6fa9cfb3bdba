import CTidepoolLinux
import Foundation

/// Runs a child process (python -m venv, pip, the build command) with its
/// stdout and stderr merged, optionally echoing them live to our stderr, and
/// keeps the output so a failure can quote it. Blocking by design: this runs
/// before the host forks anything, or on a redeploy's preparation thread
/// (`PreparationThread`).
///
/// The child is started by our own `posix_spawn` (`tp_spawn_captured`), in a
/// process group of its own (a terminal's Ctrl-C reaches only us, and we
/// pass it on) and with no descriptor of ours but its output pipe. Not
/// Foundation's `Process`: that one fails with EBADF under valgrind, where
/// the host's instruction counts are measured (README "Performance").
public enum ProcessRunner {
    struct Outcome: Sendable {
        /// The exit status, or 128 + the signal that ended it.
        var status: Int32
        /// The whole merged output (bounded: the first bytes are dropped past 1 MB).
        var output: String
        /// Its last `count` non-empty lines.
        func lastLines(_ count: Int) -> [String] {
            Array(output.split(whereSeparator: \.isNewline).suffix(count).map(String.init))
        }
    }

    /// The child could not be started at all (no such program, no pipe).
    struct SpawnError: Error, CustomStringConvertible {
        var executable: String
        var errno: Int32
        var description: String { "could not start \(executable): \(String(cString: strerror(errno)))" }
    }

    static func run(
        _ executable: String, _ arguments: [String], directory: URL? = nil,
        environment: [String: String]? = nil, echo: Bool
    ) throws -> Outcome {
        var pipe: [Int32] = [-1, -1]
        guard tp_pipe_cloexec(&pipe) == 0 else { throw SpawnError(executable: executable, errno: errno) }
        let variables = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        let (pid, spawnErrno) = withCStrings([executable] + arguments) { argv in
            withCStrings(variables) { envp in
                (tp_spawn_captured(executable, argv, envp, directory?.path, pipe[1]), errno)
            }
        }
        close(pipe[1])
        guard pid > 0 else {
            close(pipe[0])
            throw SpawnError(executable: executable, errno: spawnErrno)
        }
        _ = tp_helper_group_add(pid)
        let output = readAll(pipe[0], echo: echo)
        close(pipe[0])
        let status = tp_wait_exit_code(pid)
        tp_helper_group_remove(pid)
        return Outcome(status: status, output: String(decoding: output, as: UTF8.self))
    }

    /// Reads `fd` to its end (the child and everything it started closed
    /// their copies), echoing to our stderr if asked; keeps the last 1 MB.
    private static func readAll(_ fd: Int32, echo: Bool) -> [UInt8] {
        let limit = 1 << 20
        var collected: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            if echo { chunk.withUnsafeBytes { _ = write(2, $0.baseAddress, count) } }
            collected.append(contentsOf: chunk[0..<count])
            if collected.count > limit { collected.removeFirst(collected.count - limit) }
        }
        return collected
    }

    /// Calls `body` with `strings` as a NULL-terminated array of C strings.
    private static func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
        let pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
        defer { for pointer in pointers { free(pointer) } }
        return body(pointers)
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
