import CPython
import TidepoolCore

/// The response of one request as `start_response`, `write()` and the body
/// iteration build it, and the frames that carry it to the host.
///
/// Frames accumulate in `pending` and go out in one write per flush: the head
/// travels with the first body chunk, and a list/tuple body (or one that has
/// reached its declared Content-Length) goes out with its end in one write.
final class Response: @unchecked Sendable {
    // Invariant: every property is read and mutated only with the GIL held
    // (by the handler thread, or by app code calling start_response/write from
    // another Python thread). `flush` copies `pending` out before it releases
    // the GIL to write, so nothing here is touched without the GIL.

    /// Body frames are split at this size so no frame nears the decoder's limit.
    static let maxBodyFrame = 1 << 20

    let request: PendingRequest
    let channel: Channel
    let queue: RequestQueue
    let callables: NativeCallables
    private let cpuStart: UInt64

    /// Status and headers from the last valid `start_response` call.
    private(set) var status: (code: UInt16, reason: String)?
    private var headers = HeaderBlock()
    /// The app's own Content-Length, which it must not exceed.
    private(set) var declaredLength: Int?
    /// Bytes of body produced under the current head.
    private(set) var bodyBytes = 0
    private var headEncoded = false
    /// The head has reached the socket: from now on only `aborted` can report a failure.
    private(set) var headWritten = false
    private var pending: [UInt8] = []
    /// The first way the app broke the WSGI contract, if any: the response fails with it.
    var violation: String?
    /// The response has ended; late `start_response`/`write` calls raise.
    private(set) var finished = false

    init(request: PendingRequest, channel: Channel, queue: RequestQueue, callables: NativeCallables, cpuStart: UInt64) {
        self.request = request
        self.channel = channel
        self.queue = queue
        self.callables = callables
        self.cpuStart = cpuStart
    }

    var isCancelled: Bool { queue.isCancelled(request.id) }

    /// True once the body has as many bytes as the app declared: the iterator
    /// should be at its end, so its last chunk waits to go out with `responseEnd`.
    var reachedDeclaredLength: Bool {
        guard let declaredLength else { return false }
        return bodyBytes >= declaredLength
    }

    /// Records the first contract violation and returns false (for `guard` chains).
    @discardableResult
    func violate(_ reason: String) -> Bool {
        if violation == nil { violation = reason }
        return false
    }

    /// Sets (or, under exc_info, replaces) the head. Anything produced under a
    /// replaced head that has not reached the socket is dropped with it.
    func setHead(code: UInt16, reason: String, headers: HeaderBlock, declaredLength: Int?) {
        precondition(!headWritten, "a head that reached the host cannot be replaced")
        pending.removeAll(keepingCapacity: true)
        headEncoded = false
        bodyBytes = 0
        status = (code, reason)
        self.headers = headers
        self.declaredLength = declaredLength
    }

    /// Appends a body chunk (a `bytes` object). Empty chunks are skipped: the
    /// head waits for the first byte. Returns false on a contract violation.
    func append(bytesObject: PyObjectPointer) -> Bool {
        var pointer: UnsafeMutablePointer<CChar>?
        var length: Py_ssize_t = 0
        guard PyBytes_AsStringAndSize(bytesObject, &pointer, &length) == 0 else {
            PyErr_Clear()
            return violate("a body chunk is not bytes")
        }
        guard length > 0, let pointer else { return true }
        guard status != nil else {
            return violate("the app produced body bytes before calling start_response")
        }
        if let declaredLength, bodyBytes + length > declaredLength {
            return violate("the app produced more than the \(declaredLength) bytes its Content-Length header declares")
        }
        encodeHeadIfNeeded()
        var offset = 0
        while offset < length {
            let size = min(Response.maxBodyFrame, length - offset)
            FrameEncoder.encodeBody(
                kind: .responseBody, id: request.id,
                bytes: UnsafeRawBufferPointer(start: pointer + offset, count: size), into: &pending
            )
            offset += size
        }
        bodyBytes += length
        return true
    }

    /// Writes what is pending (the GIL is released only if the write must wait).
    func flush() {
        guard !pending.isEmpty else { return }
        let bytes = pending
        pending = []
        if headEncoded { headWritten = true }
        channel.writeHoldingGIL(bytes)
    }

    /// Ends a response the app produced without raising: checks what can only
    /// be checked at the end, then sends the head (if no byte came), the rest
    /// of the body and `responseEnd`, in one write.
    func complete() {
        guard status != nil else {
            return fail(reason: violation ?? "the app returned without calling start_response", traceback: nil)
        }
        if violation == nil, let declaredLength, bodyBytes < declaredLength, mayDeclareUnsentBody {
            violate("the app produced \(bodyBytes) bytes but its Content-Length header declares \(declaredLength)")
        }
        if let violation { return fail(reason: violation, traceback: nil) }
        encodeHeadIfNeeded()
        FrameEncoder.encode(.responseEnd(id: request.id, end(.complete)), into: &pending)
        finished = true
        flush()
    }

    /// Reports a failed request: a `log` frame with the reason and traceback,
    /// then either a 500 `FUNCTION_INVOCATION_FAILED` (the head has not reached
    /// the host) or an aborted `responseEnd` (it has: the host cuts the client).
    func fail(reason: String, traceback: String?) {
        var message = "\(request.summary): \(reason)"
        if let traceback, !traceback.isEmpty { message += "\n" + traceback }
        if message.utf8.count > 64 << 10 {
            message = String(decoding: message.utf8.prefix(64 << 10), as: UTF8.self) + "\n…(truncated)"
        }
        pending.removeAll()
        FrameEncoder.encode(.log(LogRecord(level: .error, message: message)), into: &pending)
        if headWritten {
            FrameEncoder.encode(.responseEnd(id: request.id, end(.aborted(reason: reason))), into: &pending)
        } else {
            let code = ErrorCode.invocationFailed
            FrameEncoder.encode(.responseHead(id: request.id, ResponseHead(
                status: UInt16(code.status), reason: "Internal Server Error",
                headers: [
                    Header("content-type", "text/plain; charset=utf-8"),
                    Header(ErrorCode.headerName, code.rawValue),
                ]
            )), into: &pending)
            FrameEncoder.encode(.responseBody(id: request.id, Array(code.body.utf8)), into: &pending)
            FrameEncoder.encode(.responseEnd(id: request.id, end(.complete)), into: &pending)
        }
        finished = true
        headEncoded = false
        flush()
    }

    /// Ends a request the host cancelled: no more head or body, just an aborted
    /// `responseEnd` so the host knows the slot is free.
    func endCancelled() {
        pending.removeAll()
        FrameEncoder.encode(.responseEnd(id: request.id, end(.aborted(reason: "cancelled"))), into: &pending)
        finished = true
        headEncoded = false
        flush()
    }

    private func encodeHeadIfNeeded() {
        guard !headEncoded, let status else { return }
        FrameEncoder.encodeResponseHead(id: request.id, status: status.code, reason: status.reason, headers: headers, into: &pending)
        headEncoded = true
    }

    /// The handler thread's CPU clock when the end was encoded (0 before):
    /// the next request the thread runs back to back starts from it, sparing
    /// a clock system call.
    private(set) var endCPU: UInt64 = 0

    private func end(_ outcome: ResponseEnd.Outcome) -> ResponseEnd {
        endCPU = Clock.threadCPU()
        return ResponseEnd(
            cpuNanos: endCPU &- cpuStart,
            wallNanos: Clock.now() &- request.arrival,
            outcome: outcome
        )
    }

    /// HEAD answers and 1xx/204/304 statuses declare a length they never send.
    private var mayDeclareUnsentBody: Bool {
        guard let code = status?.code else { return true }
        return !request.head.methodIs("HEAD") && code >= 200 && code != 204 && code != 304
    }
}
