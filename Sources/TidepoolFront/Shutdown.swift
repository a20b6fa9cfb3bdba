import CEvent
import CTidepoolLinux
import Glibc
import Logging
import TidepoolCore

/// Signals and the orderly (or hurried) end of the host.
///
/// First SIGINT/SIGTERM: stop accepting, let in-flight and queued requests
/// finish (bounded by maxDuration), close every channel (instances and the
/// template exit on EOF), SIGTERM then SIGKILL stragglers, reap them all,
/// exit 0. A second signal kills every child at once and exits 1.
extension HostRuntime {
    /// Seconds after the channels close before stragglers get SIGTERM, then SIGKILL.
    static let terminateAfterSeconds = 3.0
    static let killAfterSeconds = 6.0

    func installSignalHandlers() {
        for signal in [SIGINT, SIGTERM] {
            loop.onSignal(signal) { [unowned self] in receivedStopSignal(signal) }
        }
        loop.onSignal(SIGCHLD) { [unowned self] in reapChildren() }
    }

    private func receivedStopSignal(_ signal: Int32) {
        let name = signal == SIGINT ? "SIGINT" : "SIGTERM"
        switch phase {
        case .serving:
            logger.info("\(name): finishing \(scheduler.running.count) in-flight and \(scheduler.queue.count) queued requests, then stopping")
            beginDrain()
        case .starting:
            logger.info("\(name) during startup: stopping")
            beginStop(status: 0)
        case .draining, .stopping:
            logger.warning("\(name) again: killing every child now")
            exitStatus = 1
            if phase == .draining { beginStop(status: 1) }
            signalChildren(SIGKILL)
        }
    }

    /// Stops accepting connections and waits for every request to finish.
    private func beginDrain() {
        phase = .draining
        disableFront()
        stopPreparation()
        let deadline = loop.after(configuration.maxDurationSeconds) { [unowned self] in
            guard phase == .draining else { return }
            logger.warning("requests still running after maxDuration (\(Int(configuration.maxDurationSeconds)) s); stopping anyway")
            beginStop(status: 0)
        }
        waitForIdle(deadline: deadline, idleSince: nil)
    }

    /// Polls until no request is left and every reply has been written
    /// (or `replyFlushGraceSeconds` passed since the last one ended).
    private func waitForIdle(deadline: Timer, idleSince: UInt64?) {
        guard phase == .draining else { return }
        var idleSince = idleSince
        if requests.isEmpty {
            let since = idleSince ?? tp_monotonic_nanos()
            idleSince = since
            if repliesWriting <= 0 || Self.millis(since: since) >= Self.replyFlushGraceSeconds * 1000 {
                deadline.cancel()
                beginStop(status: 0)
                return
            }
        } else {
            idleSince = nil
        }
        loop.after(0.02) { [unowned self] in waitForIdle(deadline: deadline, idleSince: idleSince) }
    }

    /// Answers whatever is left, closes every channel and waits for the
    /// children to exit. `status` is the exit status unless a worse one is set.
    func beginStop(status: Int32) {
        guard phase != .stopping else { return }
        phase = .stopping
        exitStatus = max(exitStatus, status)
        startupTimer?.cancel()
        disableFront()
        // Requests still here get an answer now (none after a full drain).
        for pending in requests.values.sorted(by: { $0.id < $1.id }) {
            if pending.phase == .queued { replyError(pending, .throttled) } else { failOnDeadInstance(pending) }
        }
        requests.removeAll()
        freeFront()
        for record in instances.values { record.channel.close() }
        instances.removeAll()
        template?.control.close()
        template = nil
        abandonRedeploy()
        let closedAt = Self.millis(since: 0)
        waitForChildren(closedAt: closedAt, terminated: false, killed: false)
    }

    private func waitForChildren(closedAt: Double, terminated: Bool, killed: Bool) {
        reapChildren()
        processGroups = processGroups.filter { group in
            kill(-group, 0) == 0 || errno == EPERM
        }
        if processGroups.isEmpty {
            loop.stop()
            return
        }
        let elapsed = (Self.millis(since: 0) - closedAt) / 1000
        var terminated = terminated, killed = killed
        if !terminated && elapsed >= Self.terminateAfterSeconds {
            logger.warning("children still running \(Int(Self.terminateAfterSeconds)) s after their channels closed: SIGTERM")
            signalChildren(SIGTERM)
            terminated = true
        }
        if !killed && elapsed >= Self.killAfterSeconds {
            logger.warning("children still running after SIGTERM: SIGKILL")
            signalChildren(SIGKILL)
            killed = true
        }
        loop.after(0.02) { [unowned self] in waitForChildren(closedAt: closedAt, terminated: terminated, killed: killed) }
    }

    /// Sends `signal` to every process group the host started (template with
    /// its forked instances, and each spawned instance).
    func signalChildren(_ signal: Int32) {
        for group in processGroups { kill(-group, signal) }
    }
}
