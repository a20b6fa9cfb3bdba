import CPython
import CTidepoolLinux
import Glibc
import TidepoolCore

/// A child the template forked ahead of demand. It has done everything an
/// instance does after fork except serve: it waits on `socket` for the
/// message that makes it instance `id` (the channel descriptor attached).
/// EOF on the socket (the template exited or was killed) ends it, so a spare
/// never outlives its template.
struct Spare {
    let pid: pid_t
    /// The template's end of the socket pair.
    let socket: Int32
}

/// The hand-off message: instance id (u32) and the monotonic time the
/// template received `forkInstance` (u64, big-endian), for the `fork` phase.
private let handOffSize = 12

extension Template {
    /// Forks a spare, or nil when none can be made now (the template has more
    /// than one thread, or fork failed: the direct fork path then reports it).
    func forkSpare() -> Spare? {
        guard Clock.threadCount() == 1 else { return nil }
        var pair: [Int32] = [-1, -1]
        guard tp_socketpair_cloexec(&pair) == 0 else { return nil }
        PyOS_BeforeFork()
        let pid = Glibc.fork()
        if pid == 0 {
            PyOS_AfterFork_Child()
            close(controlFD)
            close(pair[0])
            PythonRuntime.reseedRandom()
            waitForInstance(socket: pair[1])
        }
        PyOS_AfterFork_Parent()
        close(pair[1])
        guard pid > 0 else {
            close(pair[0])
            return nil
        }
        return Spare(pid: pid, socket: pair[0])
    }

    /// Makes the spare instance `instanceID` and answers `forked`. False when
    /// the spare is gone (the caller forks directly); the spare is then
    /// killed and its socket closed either way.
    func handOff(to spare: Spare, instanceID: UInt32, channelFD: Int32) -> Bool {
        var message = [UInt8]()
        message.reserveCapacity(handOffSize)
        withUnsafeBytes(of: instanceID.bigEndian) { message.append(contentsOf: $0) }
        withUnsafeBytes(of: Clock.now().bigEndian) { message.append(contentsOf: $0) }
        let sent = message.withUnsafeBytes { tp_send_with_fd(spare.socket, $0.baseAddress, $0.count, channelFD) }
        close(spare.socket)
        guard sent == handOffSize else {
            kill(spare.pid, SIGKILL)  // reaped by reapChildren
            return false
        }
        close(channelFD)
        Channel.writeAll(fd: controlFD, FrameEncoder.encode(.forked(instanceID: instanceID, pid: spare.pid)))
        return true
    }

    /// The spare's side: waits for its channel, then serves as an instance.
    private func waitForInstance(socket: Int32) -> Never {
        var message = [UInt8](repeating: 0, count: handOffSize)
        var channelFD: Int32 = -1
        var offset = 0
        while offset < message.count {
            var received: Int32 = -1
            let n = message.withUnsafeMutableBytes {
                tp_recv_with_fd(socket, $0.baseAddress! + offset, $0.count - offset, &received)
            }
            if received >= 0 {
                if channelFD >= 0 { close(channelFD) }
                channelFD = received
            }
            if n == 0 { _exit(0) }  // the template is gone: so is its spare
            if n < 0 {
                if errno == EINTR { continue }
                _exit(0)
            }
            offset += n
        }
        close(socket)
        guard channelFD >= 0 else { _exit(0) }
        let requestedAt = message[4..<12].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let server = InstanceServer(runtime: runtime, channelFD: channelFD, threads: threads)
        server.serve(kind: .fork, phases: [StartPhase(name: "fork", nanos: Clock.now() &- requestedAt)])
    }
}
