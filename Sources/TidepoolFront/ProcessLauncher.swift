import CTidepoolLinux
import Glibc
import TidepoolCore

/// Starts child processes of this binary (`_template`, `_instance`) with their
/// channel as fd 3. Every descriptor the host creates is close-on-exec, so a
/// child inherits exactly stdin/stdout/stderr and its own channel.
enum ProcessLauncher {
    /// A connected `AF_UNIX` stream pair, both ends close-on-exec.
    static func socketPair() throws(HostError) -> (host: Int32, child: Int32) {
        var fds: [Int32] = [-1, -1]
        guard tp_socketpair_cloexec(&fds) == 0 else {
            throw .socketPair(errno: errno)
        }
        return (fds[0], fds[1])
    }

    /// The command line a template or spawned instance gets for `app`.
    static func arguments(role: String, app: AppTarget, threads: Int) -> [String] {
        var arguments = [
            role, "--project", app.projectDirectory, "--import-root", app.importRoot,
            "--module", app.module, "--attr", app.attribute,
        ]
        if let venv = app.venv { arguments += ["--venv", venv] }
        arguments += ["--threads", String(threads)]
        return arguments
    }

    /// Spawns `executable arguments…` with `channel` as its fd 3, in a new
    /// process group. The caller closes its copy of `channel` afterwards.
    static func spawn(executable: String, arguments: [String], channel: Int32) throws(HostError) -> pid_t {
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let pid = argv.withUnsafeBufferPointer { buffer in
            tp_spawn_with_channel(executable, buffer.baseAddress, channel)
        }
        guard pid > 0 else { throw .spawn(executable: executable, errno: errno) }
        return pid
    }

    /// Marks `fd` non-blocking (bufferevents and sendmsg on the loop must never block).
    static func setNonBlocking(_ fd: Int32) {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
    }
}
