import CPython
import CTidepoolLinux
import Glibc
import TidepoolCore

/// The template's fork loop. The template has imported the app and stays
/// single-threaded (no Dispatch, no Swift concurrency, no Foundation), so a
/// fork copies one consistent thread; each child becomes an instance.
///
/// Protocol on the control socket: the host sends `forkInstance(id)` frames,
/// each with the new instance's channel descriptor attached (SCM_RIGHTS).
/// The template answers each, in order, with `forked(id, pid)` or
/// `failed(phase: "fork")` (and keeps going). EOF on the socket ends it.
///
/// One child is forked ahead of demand (a `Spare`, see SpareChild.swift)
/// whenever the template is idle, so the next start skips the fork: on this
/// machine fork() of a template with Flask imported takes 2-4 ms, most of
/// a cold start's 5 ms budget.
struct Template {
    let runtime: PythonRuntime
    let controlFD: Int32
    let threads: Int

    /// How long the template waits, after a start, before it forks the next
    /// spare: a burst of starts is served by direct forks rather than
    /// contending with a spare being forked.
    static let spareRefillMillis: Int32 = 20

    func run() -> Never {
        var spare: Spare?
        while true {
            reapChildren(&spare)
            var poller = pollfd(fd: controlFD, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, spare == nil ? Self.spareRefillMillis : 1000)
            if ready < 0 && errno != EINTR {
                Diagnostics.exit(0, "template: poll on the control socket failed (errno \(errno)); exiting")
            }
            guard ready > 0 else {
                if spare == nil { spare = forkSpare() }
                continue
            }
            let (frame, fd) = readFrame()
            guard case .forkInstance(let instanceID) = frame else {
                if fd >= 0 { close(fd) }
                Diagnostics.write("template: ignoring a \(frame.kind) frame (only forkInstance is expected)")
                continue
            }
            guard fd >= 0 else {
                reply(.failed(StartFailure(phase: "fork", message: "instance \(instanceID): forkInstance arrived without a channel descriptor")))
                continue
            }
            if let ready = spare {
                spare = nil
                if handOff(to: ready, instanceID: instanceID, channelFD: fd) { continue }
            }
            fork(instanceID: instanceID, channelFD: fd)
        }
    }

    /// Forks one instance serving on `channelFD`.
    private func fork(instanceID: UInt32, channelFD: Int32) {
        let start = Clock.now()
        let threadCount = Clock.threadCount()
        guard threadCount == 1 else {
            close(channelFD)
            reply(.failed(StartFailure(phase: "fork", message: """
                instance \(instanceID): the template has \(threadCount) threads (the app started threads at import), \
                so forking it is unsafe; use start = "spawn" for this app
                """)))
            return
        }
        PyOS_BeforeFork()
        let pid = Glibc.fork()
        if pid == 0 {
            PyOS_AfterFork_Child()
            close(controlFD)
            PythonRuntime.reseedRandom()
            let server = InstanceServer(runtime: runtime, channelFD: channelFD, threads: threads)
            server.serve(kind: .fork, phases: [StartPhase(name: "fork", nanos: Clock.now() - start)])
        }
        let forkErrno = errno
        PyOS_AfterFork_Parent()
        close(channelFD)
        if pid < 0 {
            reply(.failed(StartFailure(phase: "fork", message: "instance \(instanceID): fork failed: \(String(cString: strerror(forkErrno)))")))
        } else {
            reply(.forked(instanceID: instanceID, pid: pid))
        }
    }

    /// Reads exactly one frame: its 9-byte header first, so a descriptor
    /// (which rides on the first byte of the host's sendmsg) is never merged
    /// with the next frame's. Exits on EOF: the host is gone.
    private func readFrame() -> (Frame, Int32) {
        var header = [UInt8](repeating: 0, count: FrameEncoder.headerSize)
        var fd: Int32 = -1
        readExactly(&header, fd: &fd)
        let size = header.withUnsafeBytes { raw -> Result<Int?, FrameError> in
            do throws(FrameError) { return .success(try FrameDecoder.frameSize(raw)) } catch { return .failure(error) }
        }
        guard case .success(let length?) = size else {
            Diagnostics.exit(2, "template: malformed frame header from the host: \(size); exiting")
        }
        var payload = [UInt8](repeating: 0, count: length - header.count)
        if !payload.isEmpty { readExactly(&payload, fd: &fd) }
        let bytes = header + payload
        let decoded = bytes.withUnsafeBytes { raw -> Result<(frame: Frame, consumed: Int)?, FrameError> in
            do throws(FrameError) { return .success(try FrameDecoder.decode(raw)) } catch { return .failure(error) }
        }
        guard case .success(let frame?) = decoded else {
            Diagnostics.exit(2, "template: malformed frame from the host: \(decoded); exiting")
        }
        return (frame.frame, fd)
    }

    private func readExactly(_ buffer: inout [UInt8], fd: inout Int32) {
        var offset = 0
        while offset < buffer.count {
            var received: Int32 = -1
            let n = buffer.withUnsafeMutableBytes { tp_recv_with_fd(controlFD, $0.baseAddress! + offset, $0.count - offset, &received) }
            if received >= 0 {
                if fd >= 0 { close(fd) }
                fd = received
            }
            if n == 0 { _exit(0) }  // the host closed the control socket
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                Diagnostics.exit(0, "template: control socket read failed (errno \(errno)); exiting")
            }
            offset += n
        }
    }

    private func reply(_ frame: Frame) {
        Channel.writeAll(fd: controlFD, FrameEncoder.encode(frame))
    }

    /// Collects exited instances so they do not linger as zombies; forgets
    /// the spare if it was one of them.
    private func reapChildren(_ spare: inout Spare?) {
        var status: Int32 = 0
        while case let pid = waitpid(-1, &status, WNOHANG), pid > 0 {
            if let gone = spare, gone.pid == pid {
                close(gone.socket)
                spare = nil
            }
        }
    }
}
