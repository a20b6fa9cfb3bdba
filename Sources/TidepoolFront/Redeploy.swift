import CTidepoolLinux
import Glibc
import Logging
import TidepoolCore
import TidepoolProject

/// Zero-downtime redeploy (SIGHUP, or a change under `tidepool dev`):
/// prepare the project again → start a template for the new version (fork
/// mode) → once it imported the app, tell the scheduler `redeploy`: it starts
/// the new generation's instances, moves new requests to them as they are
/// ready and drains the old ones (they finish in-flight work, then stop) →
/// the old template is closed. The preparation runs on its own thread
/// (`PreparationThread`): the loop serves the current version meanwhile,
/// however long an install or build takes. A failed preparation or a new template that
/// cannot import the app changes nothing: the old version keeps serving and
/// the error is logged.
extension HostRuntime {
    /// A redeploy whose old instances have not all stopped after this long
    /// ends anyway (a new redeploy may start; the old ones keep draining).
    static let redeployTimeoutSeconds = 180.0

    func installRedeployTriggers() {
        if reloading != nil {
            preparation = PreparationThread(loop: loop) { [unowned self] prepared in preparationDone(prepared) }
            if preparation == nil {
                logger.error("no pipe for a redeploy's preparation thread (\(String(cString: strerror(errno)))): redeploys will fail; raise the open-file limit (ulimit -n)")
            }
        }
        // Always: without `reloading` a SIGHUP is logged and ignored, not fatal.
        loop.onSignal(SIGHUP) { [unowned self] in requestRedeploy(reason: "SIGHUP") }
        if let directory = reloading?.watchDirectory { startWatching(directory) }
    }

    func requestRedeploy(reason: String) {
        guard let reloading else {
            logger.warning("\(reason): this host was started without a way to rebuild the project; ignored")
            return
        }
        switch phase {
        case .starting:
            // Not up yet: try again once serving (the change must not be lost).
            loop.after(0.5) { [unowned self] in requestRedeploy(reason: reason) }
            return
        case .draining, .stopping:
            return
        case .serving:
            break
        }
        if redeploy.running {
            logger.info("\(reason): a redeploy is running; another follows it")
            redeploy.again = reason
            return
        }
        redeploy.running = true
        redeploy.reason = reason
        redeploy.startedAt = tp_monotonic_nanos()
        logger.info("\(reason): redeploying (preparing the project)")
        guard let preparation else {
            logger.error("redeploy failed, the current version keeps serving: no pipe for the preparation thread (logged at start-up)")
            return finishRedeploy()
        }
        // The current version keeps serving while the project is prepared.
        redeploy.preparing = true
        redeploy.preparationStopped = false
        preparation.start(reloading.prepare)
    }

    /// The preparation thread finished: start the new version, or keep the current one.
    private func preparationDone(_ prepared: PreparationThread.Prepared) {
        redeploy.preparing = false
        reapChildren()  // what exited meanwhile and was left for later
        let newApp: AppTarget
        let newRouter: Router
        switch prepared {
        case .success(let next):
            (newApp, newRouter) = next
        case .failure(let error):
            if redeploy.preparationStopped {
                logger.info("redeploy cancelled: the host is stopping")
            } else {
                logger.error("redeploy failed, the current version keeps serving: \(error)")
            }
            return finishRedeploy()
        }
        guard phase == .serving else { return finishRedeploy() }  // stopping meanwhile
        switch configuration.start {
        case .fork:
            do {
                redeploy.template = try launchTemplate(newApp)
                redeploy.pendingApp = newApp
                redeploy.pendingRouter = newRouter
            } catch {
                logger.error("redeploy failed, the current version keeps serving: cannot start a template: \(error)")
                finishRedeploy()
            }
        case .spawn:
            // Spawned instances load the app themselves: the new generation's
            // fail to start if it is broken, and the old ones keep serving.
            app = newApp
            router = newRouter
            switchGeneration()
        }
    }

    /// The new template imported the app: it becomes the template new
    /// instances fork from, and the scheduler swaps generations.
    func redeployTemplateReady(_ record: TemplateRecord, millis: Double) {
        redeploy.template = nil
        guard phase == .serving || phase == .draining, let newApp = redeploy.pendingApp else {
            record.control.close()
            return
        }
        redeploy.pendingApp = nil
        if let newRouter = redeploy.pendingRouter { router = newRouter }
        redeploy.pendingRouter = nil
        logger.info("redeploy: new template ready in \(Self.format(millis)) ms (pid \(record.pid))")
        let old = template
        template = record
        app = newApp
        // The old template forks nothing more; its instances are ours and drain.
        old?.control.close()
        let backlog = forkBacklog
        forkBacklog = []
        for id in backlog { startInstance(id) }
        switchGeneration()
    }

    func redeployTemplateFailed(_ record: TemplateRecord, reason: FrameChannel.CloseReason, reported: Bool) {
        redeploy.template = nil
        redeploy.pendingApp = nil
        redeploy.pendingRouter = nil
        if !reported { logger.error("redeploy: the new template (pid \(record.pid)) exited before it was ready (\(reason))") }
        logger.error("redeploy failed: the new version did not load; the current version keeps serving")
        finishRedeploy()
    }

    /// Closes a new template still starting (the host is stopping).
    func abandonRedeploy() {
        redeploy.template?.control.close()
        redeploy.template = nil
    }

    /// The host is stopping: a preparation still running (an install or a
    /// build, for minutes perhaps) is stopped rather than waited for.
    func stopPreparation() {
        guard redeploy.preparing, !redeploy.preparationStopped else { return }
        redeploy.preparationStopped = true
        let stopped = ProcessRunner.terminateRunning()
        if stopped > 0 { logger.info("stopping the redeploy's preparation (\(stopped) child process\(stopped == 1 ? "" : "es"): SIGTERM)") }
    }

    private func switchGeneration() {
        report(.redeploy(now: now))
        logger.info("redeploy: generation \(scheduler.generation) starting; \(scheduler.retiringInstances) old instances drain once it is ready")
        awaitRetirement()
    }

    private func awaitRetirement() {
        guard phase == .serving || phase == .draining else { return finishRedeploy() }
        let elapsed = Self.millis(since: redeploy.startedAt)
        if scheduler.retiringInstances == 0 {
            logger.info("redeploy (\(redeploy.reason)) complete in \(Self.format(elapsed)) ms: generation \(scheduler.generation) serving")
            return finishRedeploy()
        }
        if elapsed >= Self.redeployTimeoutSeconds * 1000 {
            logger.warning("redeploy: \(scheduler.retiringInstances) old instances still running after \(Int(Self.redeployTimeoutSeconds)) s; they keep draining")
            return finishRedeploy()
        }
        loop.after(0.05) { [unowned self] in awaitRetirement() }
    }

    private func finishRedeploy() {
        redeploy.running = false
        if let again = redeploy.again {
            redeploy.again = nil
            requestRedeploy(reason: again)
        }
    }
}
