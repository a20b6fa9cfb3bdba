import CEvent
import Glibc

/// The host's single event loop: every socket, timer and signal of the host
/// runs on this one thread, so no host state needs a lock (DESIGN.md section 2).
/// Callbacks are top-level C functions that find their Swift closure through
/// the unretained context pointer (Swift 6 forbids capturing closures as C callbacks).
final class EventLoop {
    let base: OpaquePointer
    /// Signal events and live timers, kept alive (and their closures) until freed.
    private var signalEvents: [ClosureEvent] = []
    private var timerObjects: [ObjectIdentifier: Timer] = [:]
    private var deferredCalls: [DeferredCall] = []
    private var readWatches: [ClosureEvent] = []

    init() throws(HostError) {
        // The epoll changelist coalesces the add/del pairs made for one
        // socket within a loop iteration (read off, write on, write off, read
        // on) into at most one epoll_ctl at the next dispatch. libevent's
        // caveat (a descriptor dup'ed and one copy closed before dispatch)
        // does not arise: the host never dup()s a descriptor it watches.
        guard let config = event_config_new() else { throw .eventBase }
        defer { event_config_free(config) }
        event_config_set_flag(config, Int32(EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST.rawValue))
        guard let base = event_base_new_with_config(config) else { throw .eventBase }
        self.base = base
        // Two priorities: 0 for `watchReadable(urgent: true)` (caches that must
        // be current before any request of the same pass reads them), 1 (the
        // default for every other event, the client connections' included) for the rest.
        event_base_priority_init(base, 2)
    }

    deinit {
        for timer in timerObjects.values { timer.release() }
        for signal in signalEvents { if let event = signal.event { event_free(event) } }
        for call in deferredCalls { if let event = call.event { event_free(event) } }
        for watch in readWatches { if let event = watch.event { event_free(event) } }
        event_base_free(base)
    }

    /// Set by `stop()`: libevent clears its own break flag when a loop starts,
    /// so a stop requested before `run()` (a failed startup) must be remembered here.
    private var stopRequested = false

    /// Runs until `stop()` (returns at once if `stop()` came first).
    func run() {
        guard !stopRequested else { return }
        event_base_dispatch(base)
    }

    func stop() {
        stopRequested = true
        event_base_loopbreak(base)
    }

    /// Runs `body` on the loop each time `signal` arrives (libevent's signal
    /// handling turns the async signal into an ordinary callback).
    func onSignal(_ signal: Int32, _ body: @escaping () -> Void) {
        let box = ClosureEvent(body: body)
        let context = Unmanaged.passUnretained(box).toOpaque()
        guard let event = event_new(base, signal, Int16(EV_SIGNAL | EV_PERSIST), closureEventCallback, context) else { return }
        box.event = event
        event_add(event, nil)
        signalEvents.append(box)
    }

    /// Runs `body` once after `seconds`. The returned timer may be cancelled.
    @discardableResult
    func after(_ seconds: Double, _ body: @escaping () -> Void) -> Timer {
        let timer = Timer(loop: self, body: body)
        timerObjects[ObjectIdentifier(timer)] = timer
        timer.arm(seconds)
        return timer
    }

    /// A callback for the end of a loop iteration: `schedule()` it any number
    /// of times while callbacks run, and it runs once, after the callbacks
    /// already active in this iteration (libevent appends an activated event
    /// to the active queue it is processing). Lives as long as the loop.
    func iterationEnd(_ body: @escaping () -> Void) -> DeferredCall {
        deferredCall(delaySeconds: nil, body)
    }

    /// A callback that runs `seconds` after the first `schedule()` since it
    /// last ran: any number of calls meanwhile coalesce into that one run.
    /// Lives as long as the loop.
    func coalesced(after seconds: Double, _ body: @escaping () -> Void) -> DeferredCall {
        deferredCall(delaySeconds: seconds, body)
    }

    private func deferredCall(delaySeconds: Double?, _ body: @escaping () -> Void) -> DeferredCall {
        let call = DeferredCall(delaySeconds: delaySeconds, body: body)
        call.event = event_new(base, -1, 0, deferredCallCallback, Unmanaged.passUnretained(call).toOpaque())
        deferredCalls.append(call)
        return call
    }

    /// Frees a call from `iterationEnd` or `coalesced` (its callback never runs again).
    func release(_ call: DeferredCall) {
        guard let index = deferredCalls.firstIndex(where: { $0 === call }) else { return }
        deferredCalls.remove(at: index)
        if let event = call.event { event_free(event) }
        call.event = nil
    }

    /// Runs `body` each time `fd` is readable, for as long as the loop lives.
    /// `urgent`: in a pass where it and other events are ready, it runs first
    /// (libevent runs only the most urgent active priority in a pass, the rest
    /// in the next), so state it updates is current for the pass's requests.
    func watchReadable(_ fd: Int32, urgent: Bool, _ body: @escaping () -> Void) {
        let watch = ClosureEvent(body: body)
        let context = Unmanaged.passUnretained(watch).toOpaque()
        guard let event = event_new(base, fd, Int16(EV_READ | EV_PERSIST), closureEventCallback, context) else { return }
        if urgent { event_priority_set(event, 0) }
        watch.event = event
        event_add(event, nil)
        readWatches.append(watch)
    }

    fileprivate func forget(_ timer: Timer) {
        timerObjects[ObjectIdentifier(timer)] = nil
    }
}

/// A one-shot timer on the loop.
final class Timer {
    private unowned let loop: EventLoop
    private var event: OpaquePointer?
    fileprivate let body: () -> Void

    fileprivate init(loop: EventLoop, body: @escaping () -> Void) {
        self.loop = loop
        self.body = body
    }

    fileprivate func arm(_ seconds: Double) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        event = event_new(loop.base, -1, 0, timerCallback, context)
        var tv = timeval(seconds: seconds)
        if let event { event_add(event, &tv) }
    }

    /// Stops the timer if it has not fired; harmless afterwards.
    func cancel() {
        guard let event else { return }
        event_del(event)
        event_free(event)
        self.event = nil
        loop.forget(self)
    }

    /// Frees the event without telling the loop (used while the loop itself is freed).
    fileprivate func release() {
        if let event { event_free(event) }
        event = nil
    }

    fileprivate func fire() {
        if let event { event_free(event) }
        event = nil
        loop.forget(self)  // `self` stays alive for this call: the caller holds it
        body()
    }
}

/// A callback run later on the loop, however many times it was scheduled
/// meanwhile: at the end of the loop iteration (`EventLoop.iterationEnd`) or
/// a delay after the first `schedule()` (`EventLoop.coalesced(after:_:)`).
final class DeferredCall {
    fileprivate var event: OpaquePointer?
    fileprivate var scheduled = false
    /// nil: at the end of the current iteration.
    private let delay: timeval?
    fileprivate let body: () -> Void

    fileprivate init(delaySeconds seconds: Double?, body: @escaping () -> Void) {
        self.delay = seconds.map(timeval.init(seconds:))
        self.body = body
    }

    func schedule() {
        guard !scheduled, let event else { return }
        scheduled = true
        if var delay { event_add(event, &delay) } else { event_active(event, 0, 0) }
    }
}

private func deferredCallCallback(_ fd: Int32, _ what: Int16, _ context: UnsafeMutableRawPointer?) {
    guard let context else { return }
    let call = Unmanaged<DeferredCall>.fromOpaque(context).takeUnretainedValue()
    call.scheduled = false
    call.body()
}

/// A persistent event (a descriptor's reads, or a signal) and the closure it
/// runs (`EventLoop.watchReadable`, `EventLoop.onSignal`).
private final class ClosureEvent {
    var event: OpaquePointer?
    let body: () -> Void
    init(body: @escaping () -> Void) { self.body = body }
}

private func closureEventCallback(_ fd: Int32, _ what: Int16, _ context: UnsafeMutableRawPointer?) {
    guard let context else { return }
    Unmanaged<ClosureEvent>.fromOpaque(context).takeUnretainedValue().body()
}

private func timerCallback(_ fd: Int32, _ what: Int16, _ context: UnsafeMutableRawPointer?) {
    guard let context else { return }
    let timer = Unmanaged<Timer>.fromOpaque(context).takeUnretainedValue()
    timer.fire()
}

extension timeval {
    /// A libevent timeout of `seconds` (whole microseconds).
    init(seconds: Double) {
        self.init(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1_000_000))
    }
}
