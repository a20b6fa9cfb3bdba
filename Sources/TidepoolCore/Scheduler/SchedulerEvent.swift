/// Something that happened, reported by the executor. Each carries `now`, the
/// time it happened on the executor's monotonic clock: the scheduler has no
/// clock of its own.
public enum SchedulerEvent: Equatable, Sendable {
    /// A dynamic request wants an instance. `id` must be unique among live requests.
    case requestArrived(RequestID, now: Instant)
    /// The instance sent the request's `response-end` (or its last frame):
    /// its slot is free. `cpu` and `wall` are what the instance measured for it.
    case requestFinished(RequestID, instance: InstanceID, cpu: Duration, wall: Duration, now: Instant)
    /// The client went away. A queued request leaves the queue; a running one
    /// keeps its slot until `requestFinished` (Python cannot be interrupted).
    case requestCancelled(RequestID, now: Instant)
    /// An instance the scheduler asked for answered `ready`.
    case instanceReady(InstanceID, kind: StartKind, startDuration: Duration, now: Instant)
    /// An instance's channel closed or its process exited, at any stage.
    /// Ignored for instances the scheduler already stopped or killed.
    case instanceDied(InstanceID, now: Instant)
    /// An instance's `stats` frame: resident memory and the process's total CPU
    /// time so far (the CPU share is computed from successive totals).
    case instanceStats(InstanceID, rssBytes: UInt64, cpuTotal: Duration, now: Instant)
    /// Time passed. Send one at startup (it starts `minInstances`) and then every
    /// `SchedulerConfig.suggestedTickInterval`: deadlines, idle shrink and the
    /// windows only advance on events.
    case tick(now: Instant)
    /// A new version of the app is ready to start instances from: every
    /// instance from now on belongs to the next generation; the older ones keep
    /// serving until the new generation is up, then drain (Redeploy.swift).
    case redeploy(now: Instant)

    /// When the event happened.
    public var now: Instant {
        switch self {
        case .requestArrived(_, let now),
             .requestFinished(_, _, _, _, let now),
             .requestCancelled(_, let now),
             .instanceReady(_, _, _, let now),
             .instanceDied(_, let now),
             .instanceStats(_, _, _, let now),
             .tick(let now),
             .redeploy(let now):
            now
        }
    }
}
