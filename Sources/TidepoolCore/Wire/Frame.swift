/// One message on a host ⇄ instance (or host ⇄ template) channel.
///
/// Every frame travels as `[u32 length][u8 kind][u32 id][payload]`, big-endian,
/// where `length` counts the bytes after itself (5 + payload). The id is the
/// request id for request-scoped frames, so one channel carries every slot of
/// an instance at once; frames that are not about a request use id 0 (or, for
/// the template's fork messages, the instance id).
public enum Frame: Equatable, Sendable {
    /// Instance (or template) → host: initialised and ready to serve.
    case ready(Ready)
    /// Host → instance: a request's method, target and headers.
    case requestHead(id: UInt32, RequestHead)
    /// Host → instance: a piece of the request body.
    case requestBody(id: UInt32, [UInt8])
    /// Host → instance: the request body is complete; the request may run.
    case requestEnd(id: UInt32)
    /// Instance → host: status and headers, sent when the app yields its first body chunk.
    case responseHead(id: UInt32, ResponseHead)
    /// Instance → host: a piece of the response body, sent as the app yields it.
    case responseBody(id: UInt32, [UInt8])
    /// Instance → host: the response is complete (or was cut short), with its cost.
    case responseEnd(id: UInt32, ResponseEnd)
    /// Host → instance: the client went away or the deadline passed; stop if you can.
    case cancel(id: UInt32)
    /// Instance → host: a line for the host's log (app output, tracebacks).
    case log(LogRecord)
    /// Instance → host: periodic resource use.
    case stats(InstanceStats)
    /// Host → instance: finish what you hold, then exit.
    case drain
    /// Host → template: fork an instance with this id; its channel descriptor travels
    /// beside this frame as SCM_RIGHTS ancillary data.
    case forkInstance(instanceID: UInt32)
    /// Template → host: the instance was forked with this pid.
    case forked(instanceID: UInt32, pid: Int32)
    /// Template or instance → host: starting failed; the process exits after sending it.
    case failed(StartFailure)
}

/// The numeric kind byte of each frame. Values are part of the wire format: never reuse one.
public enum FrameKind: UInt8, Sendable, CaseIterable {
    case ready = 1
    case requestHead = 2
    case requestBody = 3
    case requestEnd = 4
    case responseHead = 5
    case responseBody = 6
    case responseEnd = 7
    case cancel = 8
    case log = 9
    case stats = 10
    case drain = 11
    case forkInstance = 12
    case forked = 13
    case failed = 14
}

extension Frame {
    public var kind: FrameKind {
        switch self {
        case .ready: .ready
        case .requestHead: .requestHead
        case .requestBody: .requestBody
        case .requestEnd: .requestEnd
        case .responseHead: .responseHead
        case .responseBody: .responseBody
        case .responseEnd: .responseEnd
        case .cancel: .cancel
        case .log: .log
        case .stats: .stats
        case .drain: .drain
        case .forkInstance: .forkInstance
        case .forked: .forked
        case .failed: .failed
        }
    }

    /// The id carried in the frame header.
    public var id: UInt32 {
        switch self {
        case .requestHead(let id, _), .requestBody(let id, _), .requestEnd(let id),
             .responseHead(let id, _), .responseBody(let id, _), .responseEnd(let id, _),
             .cancel(let id):
            id
        case .forkInstance(let instanceID), .forked(let instanceID, _):
            instanceID
        case .ready, .log, .stats, .drain, .failed:
            0
        }
    }
}
