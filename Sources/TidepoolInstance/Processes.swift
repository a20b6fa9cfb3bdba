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
        // Die with the host, including when it died before prctl took effect.
        let parent = getppid()
        _ = tp_set_parent_death_signal(SIGKILL)
        if getppid() != parent { _exit(0) }
        keepFromChildren(controlFD)
        let channel = Channel(fd: controlFD)
        let (runtime, phases) = startPython(options, channel: channel)
        let freezeStart = Clock.now()
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
        keepFromChildren(channelFD)
        let channel = Channel(fd: channelFD)
        let (runtime, phases) = startPython(options, channel: channel)
        InstanceServer(runtime: runtime, channelFD: channelFD, threads: options.threads)
            .serve(kind: .spawn, phases: phases)
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
