import CEvent
import CTidepoolLinux
import Glibc
import Logging
import TidepoolCore

/// Starting, watching and replacing the template and the instances, and
/// executing the pool's actions.
extension HostRuntime {
    /// Starts the template (fork mode) or the first instances (spawn mode).
    func startProcesses() throws(HostError) {
        switch configuration.start {
        case .fork:
            try startTemplate()
        case .spawn:
            execute(pool.start())
        }
    }

    /// Carries out what the pool decided, in order.
    func execute(_ actions: [FixedPool.Action]) {
        for action in actions {
            switch action {
            case .startInstance(let id):
                noteScale(.up, reason: phase == .starting ? .minimum : .died, instance: id)
                startInstance(id)
            case .dispatch(let requestID, let instanceID):
                dispatch(requestID, to: instanceID)
            case .enqueue:
                break
            case .reject(let requestID, let code):
                if let pending = requests.removeValue(forKey: requestID) {
                    replyError(pending, code)
                }
            }
        }
    }

    // MARK: - Template

    func startTemplate() throws(HostError) {
        let (hostEnd, childEnd) = try ProcessLauncher.socketPair()
        defer { Glibc.close(childEnd) }
        let pid: pid_t
        do {
            pid = try ProcessLauncher.spawn(
                executable: executable,
                arguments: ProcessLauncher.arguments(role: "_template", app: app, threads: configuration.threads),
                channel: childEnd
            )
        } catch {
            Glibc.close(hostEnd)
            throw error
        }
        processGroups.insert(pid)
        let control = FrameChannel(loop: loop, fd: hostEnd)
        let record = TemplateRecord(pid: pid, control: control)
        let decidedAt = tp_monotonic_nanos()
        control.onFrame = { [unowned self, unowned record] frame in
            templateFrame(frame, record: record, decidedAt: decidedAt)
        }
        control.onClose = { [unowned self, unowned record] reason in
            templateDied(record, reason: reason)
        }
        template = record
        logger.debug("template started (pid \(pid))")
    }

    private func templateFrame(_ frame: Frame, record: TemplateRecord, decidedAt: UInt64) {
        switch frame {
        case .ready:
            record.isReady = true
            logger.info("template ready in \(Self.format(Self.millis(since: decidedAt))) ms (pid \(record.pid))")
            if phase == .starting && pool.instances.isEmpty {
                execute(pool.start())
            }
            let backlog = forkBacklog
            forkBacklog = []
            for id in backlog { startInstance(id) }
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
            if phase == .starting { beginStop(status: 1) } else {
                loop.after(1) { [unowned self] in execute(pool.instanceDied(id)) }
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
                arguments: ProcessLauncher.arguments(role: "_instance", app: app, threads: configuration.threads),
                channel: childEnd
            )
        } catch {
            Glibc.close(hostEnd)
            throw error
        }
        processGroups.insert(pid)
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
            execute(pool.instanceReady(record.id, slots: Int(ready.threads)))
            startServingIfReady()
        case .failed(let failure):
            logger.error("instance \(record.id) failed to start (\(failure.phase)):\n\(failure.message)")
            record.channel.close()
            instanceDied(record, reason: .endOfFile, reported: true)
        case .log(let logRecord):
            log(logRecord, source: "instance \(record.id)")
        case .stats(let stats):
            record.stats = stats
            noteInstanceStats(record, stats)
        default:
            logger.warning("instance \(record.id) sent an unexpected \(frame.kind) frame")
        }
    }

    /// The instance's channel ended: fail exactly its requests, then replace it.
    func instanceDied(_ record: InstanceRecord, reason: FrameChannel.CloseReason, reported: Bool = false) {
        guard instances[record.id] === record else { return }
        instances[record.id] = nil
        noteInstanceGone(record.id)
        let pidText = record.pid.map { "pid \($0)" } ?? "pid unknown"
        if case .malformed = reason, let pid = record.pid {
            kill(pid, SIGKILL)  // it broke the protocol: do not wait for it to notice EOF
        }
        for id in record.requests.sorted() {
            if let pending = requests.removeValue(forKey: id) { failOnDeadInstance(pending) }
        }
        if phase == .stopping { return }
        if !record.isReady {
            if !reported { logger.error("instance \(record.id) (\(pidText)) exited before it was ready (\(reason))") }
            if phase == .starting {
                beginStop(status: 1)
                return
            }
            // Failed start while serving: retry after a pause, never in a tight loop.
            loop.after(1) { [unowned self] in execute(pool.instanceDied(record.id)) }
            return
        }
        logger.error("instance \(record.id) (\(pidText)) died (\(reason)); starting a replacement")
        execute(pool.instanceDied(record.id))
    }

    /// Reaps every exited child (SIGCHLD, and during shutdown).
    func reapChildren() {
        var status: Int32 = 0
        while true {
            let pid = waitpid(-1, &status, WNOHANG)
            guard pid > 0 else { break }
            logger.debug("process \(pid) exited (\(Self.describeWaitStatus(status)))")
        }
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
