// The contract with the host, as implemented (see also scripts/dev/instance_driver.py,
// which exercises every line of it without the host):
//
// Spawned instance (`_instance`, channel = fd 3): `ready(kind: .spawn, phases:
// [python-init, import])` once Python is up, the app imported and the handler
// threads started; or `failed(phase, message)` (message = Python traceback) and
// exit 1. Template (`_template`, control = fd 3): `ready(kind: .template, phases:
// [python-init, import, freeze])` or `failed` + exit 1; then one reply per
// `forkInstance(id)` in request order: `forked(id, pid)`, or `failed(phase:
// "fork")` (the frame carries no id: the message starts "instance <id>:") and the
// template keeps going. The child sends `ready(kind: .fork, phases: [fork])` on
// its channel. The template exits 0 on control EOF and dies with its parent
// (PR_SET_PDEATHSIG, so the host must spawn it from a thread that lives as long
// as the host).
//
// Serving: every `requestHead` gets exactly one `responseEnd` (complete, or
// aborted with a reason; "cancelled" after `cancel`), preceded by at most one
// `responseHead` and any number of `responseBody` frames. `drain` = finish every
// request already started (head received), then exit 0. Channel EOF or a write
// error = `_exit(0)` at once; a malformed or host-only frame = exit 2.
// `stats` about every second. App failures: `log(.error)` + 500
// FUNCTION_INVOCATION_FAILED, or an aborted end if the head was already sent.

import CPython
import CTidepoolLinux
import Glibc
import TidepoolCore

/// The template process role (`tidepool _template`, control socket on fd 3).
public enum TemplateProcess {
    /// Initialises Python, imports the app, freezes the GC, sends `ready`
    /// (kind `.template`) and forks instances on request until the host goes
    /// away. On a start failure it sends `failed` and exits 1.
    public static func run(_ options: InstanceOptions, controlFD: Int32) -> Never {
        signal(SIGPIPE, SIG_IGN)
        // Before the parent-death signal: a change of user clears it.
        applyPrivileges(options, channelFD: controlFD)
        // Die with the host, including when it died before prctl took effect.
        let parent = getppid()
        _ = tp_set_parent_death_signal(SIGKILL)
        if getppid() != parent { _exit(0) }
        keepFromChildren(controlFD)
        let channel = Channel(fd: controlFD)
        let (runtime, phases) = startPython(options, channel: channel)
        let freezeStart = Clock.now()
        PythonRuntime.preloadLazyImports()
        PythonRuntime.freezeGC()
        let freeze = StartPhase(name: "freeze", nanos: Clock.now() - freezeStart)
        channel.send(.ready(Ready(pid: getpid(), kind: .template, threads: UInt32(max(1, options.threads)), phases: phases + [freeze])))
        Template(runtime: runtime, controlFD: controlFD, threads: options.threads).run()
    }
}

/// The spawned instance role (`tidepool _instance`, channel on fd 3).
public enum InstanceProcess {
    /// Initialises Python, imports the app, starts the handler threads, sends
    /// `ready` (kind `.spawn`) and serves until the channel closes or a drain
    /// completes. On a start failure it sends `failed` and exits 1.
    public static func runSpawned(_ options: InstanceOptions, channelFD: Int32) -> Never {
        signal(SIGPIPE, SIG_IGN)
        applyPrivileges(options, channelFD: channelFD)
        keepFromChildren(channelFD)
        let channel = Channel(fd: channelFD)
        let (runtime, phases) = startPython(options, channel: channel)
        InstanceServer(runtime: runtime, channelFD: channelFD, threads: options.threads)
            .serve(kind: .spawn, phases: phases)
    }
}

/// Sets the limits and switches user (ProcessPrivileges.swift), or reports
/// `failed(phase: "user")` and exits 1.
private func applyPrivileges(_ options: InstanceOptions, channelFD: Int32) {
    do {
        try options.privileges.apply(readable: [options.projectDirectory, options.importRoot] + (options.venv.map { [$0] } ?? []))
    } catch {
        Diagnostics.write("start failed in phase \(error.phase): \(error.message)")
        Channel(fd: channelFD).send(.failed(error.failure))
        _exit(1)
    }
}

/// Starts Python and imports the app, or reports `failed` and exits 1.
private func startPython(_ options: InstanceOptions, channel: Channel) -> (PythonRuntime, [StartPhase]) {
    do {
        return try PythonRuntime.start(options)
    } catch {
        Diagnostics.write("start failed in phase \(error.phase): \(error.message)")
        channel.send(.failed(error.failure))
        _exit(1)
    }
}

/// Marks the channel close-on-exec: a program the app runs (os.system, a
/// subprocess with close_fds=False) must not hold the channel open after this
/// process dies, or the host would never see EOF.
private func keepFromChildren(_ fd: Int32) {
    _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
}
