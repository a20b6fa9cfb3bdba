import CEvent
import Glibc
import TidepoolCore

/// One instance process as the host sees it. Placement state (ready, in
/// flight, draining) lives in the pure `Scheduler`; this holds the process and IO side.
final class InstanceRecord {
    let id: UInt32
    let kind: StartKind
    var pid: pid_t?
    let channel: FrameChannel
    /// Monotonic time of the host's decision to start it (cold start is measured from here).
    let decidedAt: UInt64
    var startMillis: Double?
    var served = 0
    var stats: InstanceStats?
    /// Requests dispatched to it that have not ended.
    var requests = WireIDSet()
    /// The `server-timing` value for its first response (its start phases),
    /// set when it is ready and taken by the first response head.
    var serverTiming: String?
    /// Sent `drain`: takes no new requests.
    var draining = false
    var isReady: Bool { startMillis != nil }

    init(id: UInt32, kind: StartKind, pid: pid_t?, channel: FrameChannel, decidedAt: UInt64) {
        self.id = id
        self.kind = kind
        self.pid = pid
        self.channel = channel
        self.decidedAt = decidedAt
    }
}

/// The template process (start mode `fork`): imports the app once, forks instances.
final class TemplateRecord {
    let pid: pid_t
    let control: FrameChannel
    var isReady = false
    /// Its own start phases (python-init, import, …): forked instances share them.
    var phases: [StartPhase] = []
    /// Instance ids sent in `forkInstance` that have no `forked` answer yet, oldest
    /// first (a `failed` answer carries no id: it belongs to the oldest).
    var pendingForks: [UInt32] = []

    init(pid: pid_t, control: FrameChannel) {
        self.pid = pid
        self.control = control
    }
}

/// A client request for the app, from arrival until its reply is handed to its connection.
final class PendingRequest {
    enum Phase {
        case queued
        /// Frames sent; waiting for the response head.
        case dispatched
        /// `startReply` was called: body goes out as chunks.
        case streaming
    }

    let id: UInt32
    /// The client's request until its one terminal call (`sendReply`,
    /// `endReply`, `abort`) or its client leaving; nil after: nothing may touch it again.
    var request: HTTPRequest?
    let method: HTTPMethod
    var phase: Phase = .queued
    var instance: UInt32?
    /// Monotonic time the request was sent to its instance (for maxDuration).
    var dispatchedAt: UInt64 = 0
    /// Its instance channel's `bytesQueued` when its frames were added: none
    /// of them reached the instance while the channel's `bytesWritten` is at
    /// or below this.
    var queuedAt: UInt64 = 0
    /// Response head received but not yet passed to the client's connection.
    var head: ResponseHead?
    /// Response bytes received but not yet passed to the client's connection.
    let body: OpaquePointer
    /// Body bytes passed to the connection so far, checked against a declared Content-Length.
    var bytesSent = 0
    var declaredLength: Int?
    /// The client's reply is finished; later body frames are discarded.
    var replied = false
    var dirty = false
    /// The request-target the app sees after a vercel.json rewrite (nil: the client's).
    var rewrittenTarget: [UInt8]?

    init(id: UInt32, request: HTTPRequest) {
        self.id = id
        self.request = request
        self.method = request.method
        self.body = evbuffer_new()
    }

    deinit {
        evbuffer_free(body)
    }

    /// Whether the response may carry a body (not for HEAD, 1xx, 204, 304).
    func responseHasBody(status: UInt16) -> Bool {
        HTTPRequest.mayHaveBody(method: method, status: Int(status))
    }
}
