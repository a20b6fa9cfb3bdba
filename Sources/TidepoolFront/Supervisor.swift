import CEvent
import CTidepoolLinux
import Glibc
import Logging
import TidepoolCore

/// Starting, watching and replacing the template and the instances (when and
/// how many is the scheduler's decision: SchedulerExecutor.swift).
extension HostRuntime {
    /// Starts the template (fork mode), then the scheduler's ticks (the first
    /// one asks for `minInstances`; in fork mode they wait for the template).
    func startProcesses() throws(HostError) {
        if configuration.start == .fork { try startTemplate() }
        startTicking()
    }

    // MARK: - Template

    func startTemplate() throws(HostError) {
        template = try launchTemplate(app)
    }

    /// Spawns a template for `target` and wires its channel; the caller keeps the record.
    func launchTemplate(_ target: AppTarget) throws(HostError) -> TemplateRecord {
        let (hostEnd, childEnd) = try ProcessLauncher.socketPair()
        defer { Glibc.close(childEnd) }
        let pid: pid_t
        do {
            pid = try ProcessLauncher.spawn(
                executable: executable,
                arguments: childArguments(role: "_template", app: target),
                channel: childEnd
            )
        } catch {
            Glibc.close(hostEnd)
            throw error
        }
        processGroups.insert(pid)
        spawnedChildren.insert(pid)
        let control = FrameChannel(loop: loop, fd: hostEnd)
        let record = TemplateRecord(pid: pid, control: control)
        let decidedAt = tp_monotonic_nanos()
        control.onFrame = { [unowned self, unowned record] frame in
            templateFrame(frame, record: record, decidedAt: decidedAt)
        }
        control.onClose = { [unowned self, unowned record] reason in
            templateDied(record, reason: reason)
        }
        logger.debug("template started (pid \(pid))")
        return record
    }

    private func templateFrame(_ frame: Frame, record: TemplateRecord, decidedAt: UInt64) {
        switch frame {
        case .ready:
            record.isReady = true
            if case .ready(let ready) = frame { record.phases = ready.phases }
            if record === redeploy.template {
                redeployTemplateReady(record, millis: Self.millis(since: decidedAt))
                return
            }
            logger.info("template ready in \(Self.format(Self.millis(since: decidedAt))) ms (pid \(record.pid))")
            let backlog = forkBacklog
            forkBacklog = []
            for id in backlog { startInstance(id) }
            startServingIfReady()
        case .forked(let instanceID, let pid):
            record.pendingForks.removeAll { $0 == instanceID }
            instances[instanceID]?.pid = pid
        case .failed(let failure):
            if !record.isReady {
                logger.error("the app failed to load (\(failure.phase)):\n\(failure.message)")
                record.control.close()
                templateDied(record, reason: .endOfFile, reported: true)
            } else if !record.pendingForks.isEmpty {
                let id = record.pendingForks.removeFirst()
                logger.error("template could not fork instance \(id) (\(failure.phase)): \(failure.message)")
                if let instance = instances[id] {
                    instance.channel.close()
                    instanceDied(instance, reason: .endOfFile, reported: true)
                }
            }
        case .log(let record):
            log(record, source: "template")
        default:
            logger.warning("template sent an unexpected \(frame.kind) frame")
        }
    }

    private func templateDied(_ record: TemplateRecord, reason: FrameChannel.CloseReason, reported: Bool = false) {
        if record === redeploy.template {
            redeployTemplateFailed(record, reason: reason, reported: reported)
            return
        }
        guard template === record else { return }
        template = nil
        if phase == .stopping { return }
        if !record.isReady {
            if !reported { logger.error("the template (pid \(record.pid)) exited before it was ready (\(reason))") }
            if phase == .starting {
                beginStop(status: 1)
                return
            }
            // A restart failed while serving: try again shortly, without spinning.
            loop.after(1) { [unowned self] in restartTemplate() }
            return
        }
        logger.error("template (pid \(record.pid)) died (\(reason)); restarting it")
        // Instances it forked keep serving: their channels are ours, and as
        // subreaper we reap them. Replacements wait in `forkBacklog`.
        forkBacklog.append(contentsOf: record.pendingForks)
        restartTemplate()
    }

    private func restartTemplate() {
        guard template == nil, phase != .stopping else { return }
        do {
            try startTemplate()
        } catch {
            logger.error("cannot restart the template: \(error)")
            loop.after(1) { [unowned self] in restartTemplate() }
        }
    }

    // MARK: - Instances

    func startInstance(_ id: UInt32) {
        guard phase != .stopping else { return }
        do {
            switch configuration.start {
            case .fork: try forkInstance(id)
            case .spawn: try spawnInstance(id)
            }
        } catch {
            logger.error("cannot start instance \(id): \(error)")
            noteStartFailed(id)
            if phase == .starting { beginStop(status: 1) } else {
                loop.after(1) { [unowned self] in report(.instanceDied(Self.scheduler(id), now: now)) }
            }
        }
    }

    private func forkInstance(_ id: UInt32) throws(HostError) {
        guard let template, template.isReady else {
            forkBacklog.append(id)
            return
        }
        let (hostEnd, childEnd) = try ProcessLauncher.socketPair()
        defer { Glibc.close(childEnd) }
        let decidedAt = tp_monotonic_nanos()
        let frame = FrameEncoder.encode(.forkInstance(instanceID: id))
        let sent = frame.withUnsafeBytes { tp_send_with_fd(template.control.fd, $0.baseAddress, $0.count, childEnd) }
        guard sent == frame.count else {
            let code = errno
            Glibc.close(hostEnd)
            throw .sendToTemplate(errno: code)
        }
        template.pendingForks.append(id)
        register(InstanceRecord(id: id, kind: .fork, pid: nil, channel: FrameChannel(loop: loop, fd: hostEnd), decidedAt: decidedAt))
    }

    private func spawnInstance(_ id: UInt32) throws(HostError) {
        let (hostEnd, childEnd) = try ProcessLauncher.socketPair()
        defer { Glibc.close(childEnd) }
        let decidedAt = tp_monotonic_nanos()
        let pid: pid_t
        do {
            pid = try ProcessLauncher.spawn(
                executable: executable,
                arguments: childArguments(role: "_instance"),
                channel: childEnd
            )
        } catch {
            Glibc.close(hostEnd)
            throw error
        }
        processGroups.insert(pid)
        spawnedChildren.insert(pid)
        register(InstanceRecord(id: id, kind: .spawn, pid: pid, channel: FrameChannel(loop: loop, fd: hostEnd), decidedAt: decidedAt))
    }

    private func register(_ record: InstanceRecord) {
        instances[record.id] = record
        let channel = record.channel
        channel.onFrame = { [unowned self, unowned record] frame in instanceFrame(frame, record: record) }
        channel.onBody = { [unowned self] id, input, length in relayBody(id, from: input, length: length) }
        channel.onBatchEnd = { [unowned self] in flushDirtyRequests() }
        channel.onClose = { [unowned self, unowned record] reason in instanceDied(record, reason: reason) }
    }

    private func instanceFrame(_ frame: Frame, record: InstanceRecord) {
        switch frame {
        case .responseHead(let id, let head):
            relayHead(id, head)
        case .responseEnd(let id, let end):
            relayEnd(id, end, instance: record)
        case .ready(let ready):
            guard !record.isReady else { return }
            let millis = Self.millis(since: record.decidedAt)
            record.startMillis = millis
            if record.pid == nil { record.pid = ready.pid }
            logger.info("instance \(record.id) ready (\(record.kind.name)) in \(Self.format(millis)) ms")
            noteInstanceReady(record)
            record.serverTiming = serverTiming(kind: record.kind, startMillis: millis, phases: ready.phases)
            report(.instanceReady(
                Self.scheduler(record.id), kind: record.kind,
                startDuration: .nanoseconds(Int64(millis * 1e6)), now: now))
            startServingIfReady()
        case .failed(let failure):
            logger.error("instance \(record.id) failed to start (\(failure.phase)):\n\(failure.message)")
            record.channel.close()
            instanceDied(record, reason: .endOfFile, reported: true)
        case .log(let logRecord):
            log(logRecord, source: "instance \(record.id)")
        case .stats(let stats):
            record.stats = stats
            report(.instanceStats(
                Self.scheduler(record.id), rssBytes: stats.rssBytes,
                cpuTotal: .nanoseconds(Int64(clamping: stats.cpuNanos)), now: now))
        default:
            logger.warning("instance \(record.id) sent an unexpected \(frame.kind) frame")
        }
    }

    /// The instance's channel ended: the scheduler fails exactly its requests
    /// still awaiting an answer and decides on a replacement.
    func instanceDied(_ record: InstanceRecord, reason: FrameChannel.CloseReason, reported: Bool = false) {
        guard instances[record.id] === record else { return }
        let pidText = record.pid.map { "pid \($0)" } ?? "pid unknown"
        if case .malformed = reason, let pid = record.pid {
            kill(pid, SIGKILL)  // it broke the protocol: do not wait for it to notice EOF
        }
        if phase != .stopping {
            if !record.isReady {
                if !reported { logger.error("instance \(record.id) (\(pidText)) exited before it was ready (\(reason))") }
            } else {
                logger.error("instance \(record.id) (\(pidText)) died (\(reason)); the scheduler replaces it if needed")
            }
        }
        instances[record.id] = nil
        noteInstanceGone(record, died: true)
        // An app that cannot start while the host starts: stop (no replacement).
        if phase == .starting && !record.isReady { beginStop(status: 1) }
        requeueUnsent(on: record)
        report(.instanceDied(Self.scheduler(record.id), now: now))
        // Requests the scheduler did not list (already answered 504, or their
        // client left) are still held here: free them.
        for id in record.requests.sorted() {
            if let pending = requests[id], pending.instance == record.id {
                requests[id] = nil
                failOnDeadInstance(pending)
            }
        }
    }

    /// Requests dispatched to a dead instance of which it never received a
    /// byte (killed an instant before, its EOF not processed when they were
    /// placed) go back to `queued`: the scheduler lists them as lost, and
    /// `SchedulerExecutor.failRequest` places them again rather than answering
    /// 502 for work that never started. Only those the scheduler will list
    /// (not already answered 504, client still there).
    private func requeueUnsent(on record: InstanceRecord) {
        let written = record.channel.bytesWritten
        for id in record.requests {
            guard let pending = requests[id], pending.instance == record.id, pending.phase == .dispatched,
                  pending.head == nil, pending.request != nil, pending.queuedAt >= written,
                  let running = scheduler.running[RequestID(UInt64(id))], !running.timedOut, !running.cancelled
            else { continue }
            pending.phase = .queued
            pending.instance = nil
            record.requests.remove(id)
        }
    }

    /// Reaps every exited child (SIGCHLD, after a redeploy's preparation, and
    /// during shutdown): ours, and as subreaper the instances a template
    /// left behind. While a preparation runs child processes (pip, the build
    /// command) on its own thread, only the children we spawned are reaped,
    /// by pid: `ProcessRunner` must collect the status of its own.
    func reapChildren() {
        var status: Int32 = 0
        if redeploy.preparing {
            for pid in spawnedChildren where waitpid(pid, &status, WNOHANG) == pid {
                reaped(pid, status)
            }
            return
        }
        while true {
            let pid = waitpid(-1, &status, WNOHANG)
            guard pid > 0 else { break }
            reaped(pid, status)
        }
    }

    private func reaped(_ pid: pid_t, _ status: Int32) {
        spawnedChildren.remove(pid)
        logger.debug("process \(pid) exited (\(Self.describeWaitStatus(status)))")
    }

    func log(_ record: LogRecord, source: String) {
        let level: Logger.Level = switch record.level {
        case .debug: .debug
        case .info: .info
        case .warning: .warning
        case .error: .error
        }
        logger.log(level: level, "\(record.message)", metadata: ["source": .string(source)])
    }

    static func describeWaitStatus(_ status: Int32) -> String {
        let signal = status & 0x7f
        return signal == 0 ? "exit \((status >> 8) & 0xff)" : "signal \(signal)"
    }

    static func format(_ millis: Double) -> String {
        let tenths = (millis * 10).rounded() / 10
        return String(tenths)
    }
}
