/// What the scheduler asks the executor to do, in the order returned.
///
/// The scheduler has already updated its own state as if each action
/// succeeded; the executor reports failures back as events (a start that
/// fails is `instanceDied`).
public enum SchedulerAction: Equatable, Sendable {
    /// Send the request to the instance (its deadline is now + `maxDuration`).
    case dispatch(RequestID, to: InstanceID)
    /// Start a new instance under this id (fork or spawn is the executor's
    /// choice); report `instanceReady` or `instanceDied` for it later.
    case start(InstanceID, reason: ScaleReason)
    /// Send the instance `drain`: it gets no new requests from now on. A
    /// `stop` or `kill` for it follows when it may end.
    case drain(InstanceID, reason: ScaleReason)
    /// The drained instance has nothing in flight: end it gracefully. The
    /// scheduler has forgotten it; a later `instanceDied` for it is ignored.
    case stop(InstanceID)
    /// End the instance at once (SIGKILL): it holds a request stuck past
    /// `maxDuration` + `stuckGrace`, and every request still on it was already
    /// answered with 504. The scheduler has forgotten it and its requests.
    case kill(InstanceID)
    /// Answer the request with this error now.
    /// `.throttled` (503): the queue was full or the request waited past
    /// `queueTimeout`; the request is gone from the scheduler.
    /// `.invocationTimeout` (504): it ran past `maxDuration`; it still holds its
    /// slot, so keep its channel entry and drop the late response, and still
    /// report `requestFinished` when Python returns.
    case reject(RequestID, ErrorCode)
    /// The instance died with these requests on it: answer each with the code
    /// (502 `.noResponse`). Only requests still awaiting an answer are listed
    /// (not cancelled or already-504'd ones); the scheduler forgot them all.
    case failRequests([RequestID], ErrorCode)
}

/// Why the pool changed, for logs, the status page and the
/// `scale events by direction and reason` metric.
public enum ScaleReason: String, Sendable, CaseIterable {
    /// A request could not be placed and waits: capacity must cover in-flight + queued.
    case queue
    /// Like `queue`, but the free slots were on CPU-saturated instances.
    case saturation
    /// The short window's demand is at least `panicThreshold` × the ready instances.
    case panic
    /// The stable window's averaged demand needs more instances than exist.
    case load
    /// Keep `spareInstances` idle warm instances ahead of demand.
    case spare
    /// Keep `minInstances`.
    case minimum
    /// Unused for `idleTimeout` and the stable window does not need it (scale down).
    case idle
    /// Replace an instance that died.
    case died
    /// An instance held a request past `maxDuration` + `stuckGrace` (drain and
    /// kill it, and start its replacement).
    case stuck
    /// An instance's RSS passed `instanceMemoryMB`: drain it (its in-flight
    /// requests finish) and start a replacement, before the OS kills it mid-request.
    case memory
}
