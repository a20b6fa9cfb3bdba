import CEvent
import CTidepoolLinux
import Glibc
import Logging
import TidepoolCore
import TidepoolProject

/// Everything the host process does, driven by one libevent loop: the HTTP
/// front, the pool's actions, and supervision of the template and instances.
///
/// Not Sendable and never shared: every method runs on the loop thread (C
/// callbacks reach it through an unretained pointer that outlives the loop).
/// The work is split by concern into extensions: Supervisor.swift (processes),
/// Shutdown.swift, HTTPFront.swift, RequestForwarding.swift, ResponseRelay.swift.
final class HostRuntime {
    enum Phase: String {
        /// Template and instances are starting; the port is bound but not accepting.
        case starting
        case serving
        /// A signal arrived: no new connections, in-flight and queued work finishes.
        case draining
        /// Channels closed; waiting for children to exit.
        case stopping
    }

    let configuration: Configuration
    /// `maxDuration` in milliseconds, as each request head frame carries it.
    let requestTimeoutMillis: UInt32
    /// The version being served; a redeploy replaces it (Redeploy.swift).
    var app: AppTarget
    let executable: String
    /// How to rebuild on SIGHUP / a change in dev mode, and redeploy progress.
    let reloading: Reloading?
    var redeploy = RedeployProgress()
    let loop: EventLoop
    var logger = Logger(label: "tidepool")
    var phase: Phase = .starting
    var exitStatus: Int32 = 0

    /// Decides where every request goes and how many instances run
    /// (SchedulerExecutor.swift carries out its actions).
    var scheduler: Scheduler
    /// Holds the scheduler's actions between events, for `report` to reuse.
    var actionBuffer: [SchedulerAction] = []
    var instances = WireIDTable<InstanceRecord>()
    var template: TemplateRecord?
    /// Instance ids waiting for a template that is (re)starting.
    var forkBacklog: [UInt32] = []
    var requests = WireIDTable<PendingRequest>()
    var nextRequestID: UInt32 = 1
    /// Requests the front handed us whose reply is not fully written yet. A
    /// reply whose client leaves first never reports completion, so this may
    /// stay above zero: a stop waits for it only for `replyFlushGraceSeconds`.
    var repliesWriting = 0
    static let replyFlushGraceSeconds = 3.0
    /// Requests with response data to write at the end of the current read batch.
    var dirtyRequests: [PendingRequest] = []
    /// The batch `flushDirtyRequests` walks, swapped with `dirtyRequests`:
    /// both arrays keep their storage (a copy would make the next append
    /// allocate a new buffer, once per read batch).
    var flushingRequests: [PendingRequest] = []
    /// Process groups that may still hold live children (template groups, spawned instances).
    var processGroups: Set<pid_t> = []
    /// Our own children not reaped yet (templates, spawned instances): all
    /// `reapChildren` waits for while a preparation runs its own.
    var spawnedChildren: Set<pid_t> = []
    /// Where a redeploy prepares the project (nil without `reloading`).
    var preparation: PreparationThread?

    let staticFiles: StaticFiles?
    /// vercel.json redirects, headers, rewrites, cleanUrls, trailingSlash (FrontRouting.swift).
    /// Replaced with the new version's on redeploy (Redeploy.swift).
    var router: Router
    /// The main port's HTTP server (HTTP/HTTPServer.swift).
    var front: HTTPServer?
    var startupTimer: Timer?
    /// The `--admin-port` server, when `/_tidepool/` is served apart (Metrics/AdminListener.swift).
    var admin: HTTPServer?
    let metrics = HostMetrics()
    /// The access log's formatter; nil when the log level hides it (above `info`).
    var accessLog: AccessLog?
    /// Writes the waiting log lines together (LogOutput), `logFlushSeconds` after the first.
    var logFlush: DeferredCall
    /// How long an access log line may wait for others to share its write:
    /// at low load a write per loop pass was one syscall per request (4 µs
    /// of the host's ~90 µs of CPU at one connection); 20 ms is not a delay
    /// anyone reading the log notices. Other log lines flush it first
    /// (`FlushingLogHandler`), and so does the exit.
    static let logFlushSeconds = 0.02
    var observed = ObservedRequests()
    let startedAt = tp_monotonic_nanos()
    /// Who children run as (InstanceUser.swift); nil keeps the host's identity.
    var instanceUser: InstanceUser?

    /// How long the template and the first instances may take to become ready.
    static let startupTimeoutSeconds = 120.0

    /// How long an instance may take from the decision to start it to `ready`
    /// before it counts as dead (the scheduler has no start timeout of its own).
    static let instanceStartTimeoutSeconds = 60.0

    init(
        configuration: Configuration, app: AppTarget, executable: String, router: Router = Router(),
        reloading: Reloading? = nil
    ) throws(HostError) {
        self.configuration = configuration
        requestTimeoutMillis = UInt32(min(configuration.maxDurationSeconds * 1000, Double(UInt32.max)).rounded())
        self.router = router
        self.app = app
        self.reloading = reloading
        self.executable = executable
        let loop = try EventLoop()
        self.loop = loop
        self.logFlush = loop.coalesced(after: Self.logFlushSeconds) { LogOutput.flush() }
        self.accessLog = Logger(label: "tidepool.access").logLevel <= .info ? AccessLog(format: configuration.logFormat) : nil
        self.staticFiles = app.publicDirectory.flatMap { StaticFiles(publicDirectory: $0, loop: loop) }
        do {
            self.scheduler = try Scheduler(config: configuration.scheduler, machineMemoryBytes: Self.machineMemoryBytes)
        } catch {
            throw .configuration(error.description)
        }
    }

    /// Runs the host until it stops; returns the process exit status.
    func run() -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        // Orphaned instances (their template died) come back to us: reap and stop them.
        _ = tp_set_child_subreaper()
        installSignalHandlers()
        installRedeployTriggers()
        do {
            try bindFront()
            try resolveInstanceUser()  // InstanceUser.swift
            try startProcesses()
        } catch {
            logger.error("\(error)")
            beginStop(status: 1)
        }
        startupTimer = loop.after(Self.startupTimeoutSeconds) { [unowned self] in
            guard phase == .starting else { return }
            logger.error("instances did not become ready within \(Int(Self.startupTimeoutSeconds)) s; stopping")
            beginStop(status: 1)
        }
        loop.run()
        tearDownFront()
        LogOutput.flush()
        logger.info("stopped (exit status \(exitStatus))")
        return exitStatus
    }

    /// Milliseconds since `start` on the monotonic clock.
    static func millis(since start: UInt64) -> Double {
        Double(tp_monotonic_nanos() &- start) / 1_000_000
    }

    /// Called whenever an instance becomes ready: the first time the whole pool
    /// is ready, the front starts accepting connections.
    func startServingIfReady() {
        guard phase == .starting, readyInstanceCount >= scheduler.config.minInstances else { return }
        if configuration.start == .fork, template?.isReady != true { return }
        phase = .serving
        startupTimer?.cancel()
        startupTimer = nil
        enableFront()
        logger.info("listening on http://\(displayHost):\(configuration.port)")
    }

    var displayHost: String {
        configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
    }
}
