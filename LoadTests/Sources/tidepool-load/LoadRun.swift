import CEvent
import Foundation
import LoadCore

/// Runs one scenario against one target on a single libevent loop: open-loop
/// sends fire from a precise timer at their scheduled times, closed-loop users
/// send on completion, and a 1 s tick polls the host and draws progress.
final class LoadRun {
    let scenario: Scenario
    let target: Target
    let progress: Progress?
    private let base: OpaquePointer
    private var schedule: ArrivalSchedule
    private var nextSend: ArrivalSchedule.Send?
    private var start = 0.0
    private var recorder = TimelineRecorder()
    private var observer = PoolObserver()
    private var idle: [Connection] = []
    private var openConnections = 0
    private let connectionLimit: Int
    /// Sends due while every connection was busy: (scheduled time, path, closed-loop phase).
    private var waiting: [(Double, String, Int?)] = []
    private var waitingHead = 0
    private var outstanding = 0
    private var sendTimer: OpaquePointer?
    private var tickTimer: OpaquePointer?
    /// Status/metrics polls go on their own connection, never queued behind load.
    private var monitor: Connection?
    private var metricsAvailable = true
    private var lastMetrics: MetricsDocument?
    private var startedClosedPhases: Set<Int> = []
    private var finished = false

    init(scenario: Scenario, target: Target, progress: Progress?) throws {
        self.scenario = scenario
        self.target = target
        self.progress = progress
        guard let config = event_config_new() else { throw LoadError.eventLoop("event_config_new failed") }
        defer { event_config_free(config) }
        event_config_set_flag(config, Int32(EVENT_BASE_FLAG_PRECISE_TIMER.rawValue))
        guard let base = event_base_new_with_config(config) else { throw LoadError.eventLoop("event_base_new failed") }
        self.base = base
        schedule = ArrivalSchedule(scenario)
        connectionLimit = FileLimit.connections(wanted: scenario.maxConnections)
        monitor = Connection(base: base, target: target, timeoutSeconds: 5)
    }

    deinit {
        if let sendTimer { event_free(sendTimer) }
        if let tickTimer { event_free(tickTimer) }
        // Connections must be freed before the base they live on.
        idle.removeAll()
        monitor = nil
        event_base_free(base)
    }

    var elapsed: Double { Clock.now() - start }

    /// Runs to the end of the scenario plus the drain, then returns the finished timeline.
    func run() -> (recorder: TimelineRecorder, observer: PoolObserver, duration: Double) {
        let me = Unmanaged.passUnretained(self).toOpaque()
        sendTimer = event_new(base, -1, 0, { _, _, arg in
            Unmanaged<LoadRun>.fromOpaque(arg!).takeUnretainedValue().sendDue()
        }, me)
        tickTimer = event_new(base, -1, Int16(EV_PERSIST), { _, _, arg in
            Unmanaged<LoadRun>.fromOpaque(arg!).takeUnretainedValue().tick()
        }, me)
        start = Clock.now()
        nextSend = schedule.next()
        poll()
        var second = timeval(tv_sec: 1, tv_usec: 0)
        event_add(tickTimer, &second)
        sendDue()
        event_base_dispatch(base)
        let duration = elapsed
        // Whatever never came back by the end of the drain is an error, not a silent loss.
        for _ in 0..<outstanding {
            recorder.completed(at: duration, latencySeconds: scenario.timeoutSeconds, error: "unfinished")
        }
        recorder.finish()
        progress?.finish()
        return (recorder, observer, duration)
    }

    // MARK: open loop

    /// Sends everything due, starts closed-loop phases, and re-arms the timer for the next send.
    private func sendDue() {
        let now = elapsed
        startClosedPhase(at: now)
        var budget = 2000
        while let send = nextSend, send.time <= now, budget > 0 {
            dispatch(scheduled: send.time, path: send.path, closedPhase: nil)
            nextSend = schedule.next()
            budget -= 1
        }
        var wake = scenario.durationSeconds - now
        if let send = nextSend { wake = min(wake, send.time - now) }
        if let boundary = nextClosedPhaseStart(after: now) { wake = min(wake, boundary - now) }
        guard wake > 0 || budget == 0 else { return }
        var tv = timeval(tv_sec: Int(max(0, wake)), tv_usec: Int((max(0, wake).truncatingRemainder(dividingBy: 1)) * 1e6))
        event_add(sendTimer, &tv)
    }

    private func nextClosedPhaseStart(after now: Double) -> Double? {
        var begin = 0.0
        for (index, phase) in scenario.phases.enumerated() {
            if case .users = phase.load, !startedClosedPhases.contains(index), begin >= now { return begin }
            begin += phase.durationSeconds
        }
        return nil
    }

    private func startClosedPhase(at now: Double) {
        guard let (index, _) = scenario.phase(at: now), !startedClosedPhases.contains(index),
            case .users(let count, _) = scenario.phases[index].load
        else { return }
        startedClosedPhases.insert(index)
        for _ in 0..<count { dispatch(scheduled: now, path: schedule.pickRoute(phase: index), closedPhase: index) }
    }

    /// A closed-loop user's request came back: send its next one if its phase still runs.
    private func userContinues(phase index: Int) {
        let now = elapsed
        guard let (current, _) = scenario.phase(at: now), current == index,
            case .users(_, let think) = scenario.phases[index].load
        else { return }
        if think <= 0 {
            dispatch(scheduled: now, path: schedule.pickRoute(phase: index), closedPhase: index)
            return
        }
        var tv = timeval(tv_sec: Int(think), tv_usec: Int(think.truncatingRemainder(dividingBy: 1) * 1e6))
        let box = Unmanaged.passRetained(UserWake(run: self, phase: index)).toOpaque()
        event_base_once(base, -1, Int16(EV_TIMEOUT), { _, _, arg in
            let wake = Unmanaged<UserWake>.fromOpaque(arg!).takeRetainedValue()
            let run = wake.run
            if let (current, _) = run.scenario.phase(at: run.elapsed), current == wake.phase {
                run.dispatch(scheduled: run.elapsed, path: run.schedule.pickRoute(phase: wake.phase), closedPhase: wake.phase)
            }
        }, box, &tv)
    }

    // MARK: connections

    private func dispatch(scheduled: Double, path: String, closedPhase: Int?) {
        outstanding += 1
        let connection: Connection
        if let reused = idle.popLast() {
            connection = reused
        } else if openConnections < connectionLimit {
            openConnections += 1
            connection = Connection(base: base, target: target, timeoutSeconds: scenario.timeoutSeconds)
        } else {
            waiting.append((scheduled, path, closedPhase))
            return
        }
        send(scheduled: scheduled, path: path, closedPhase: closedPhase, on: connection, waited: false)
    }

    private func send(scheduled: Double, path: String, closedPhase: Int?, on connection: Connection, waited: Bool) {
        let now = elapsed
        recorder.sent(at: now, lateness: max(0, now - scheduled), waitedForConnection: waited)
        let pending = InFlight(scheduled: scheduled, connection: connection) { [unowned self] pending, status, code, _ in
            self.completed(pending, status: status, code: code, closedPhase: closedPhase)
        }
        HTTP.get(path, target: target, on: connection.handle, pending: pending)
    }

    private func completed(_ pending: InFlight, status: Int, code: String?, closedPhase: Int?) {
        let now = elapsed
        outstanding -= 1
        let error: String? = if status == 0 { code ?? "connection" }
            else if (200..<400).contains(status) { nil }
            else { code ?? "\(status)" }
        recorder.completed(at: now, latencySeconds: now - pending.scheduled, error: error)
        if let connection = pending.connection {
            if waitingHead < waiting.count {
                let (scheduled, path, phase) = waiting[waitingHead]
                waitingHead += 1
                if waitingHead > 4096, waitingHead * 2 > waiting.count {
                    waiting.removeFirst(waitingHead)
                    waitingHead = 0
                }
                send(scheduled: scheduled, path: path, closedPhase: phase, on: connection, waited: true)
            } else {
                idle.append(connection)
            }
        }
        if let closedPhase { userContinues(phase: closedPhase) }
    }

    // MARK: monitoring

    private func tick() {
        let now = elapsed
        poll()
        let rows = recorder.rows
        progress?.draw(
            elapsed: now, total: scenario.durationSeconds,
            phase: scenario.phase(at: now).map { scenario.phases[$0.index].name } ?? "drain",
            sent: rows.reduce(0) { $0 + $1.sent }, done: rows.reduce(0) { $0 + $1.completed },
            errors: rows.reduce(0) { $0 + $1.errors }, instances: rows.last(where: { $0.instances != nil })?.instances)
        let over = now >= scenario.durationSeconds
        if over, outstanding == 0 || now >= scenario.durationSeconds + scenario.timeoutSeconds + 2 {
            event_base_loopbreak(base)
        }
    }

    private func poll() {
        let at = elapsed
        if metricsAvailable {
            let pending = InFlight(scheduled: at, connection: nil) { [unowned self] _, status, _, body in
                if status == 200 {
                    self.lastMetrics = MetricsDocument(prometheus: String(decoding: body, as: UTF8.self))
                } else if status == 404 {
                    self.metricsAvailable = false
                }
            }
            HTTP.get("/_tidepool/metrics", target: target, on: monitor!.handle, pending: pending)
        }
        let pending = InFlight(scheduled: at, connection: nil) { [unowned self] pending, status, _, body in
            guard status == 200, let status = StatusDocument(json: Data(body)) else { return }
            let sample = self.observer.observe(status, metrics: self.lastMetrics)
            self.recorder.polled(at: pending.scheduled, sample)
        }
        HTTP.get("/_tidepool/status", target: target, on: monitor!.handle, pending: pending)
    }
}

/// A closed-loop user waiting out its think time.
private final class UserWake {
    let run: LoadRun
    let phase: Int
    init(run: LoadRun, phase: Int) {
        self.run = run
        self.phase = phase
    }
}
