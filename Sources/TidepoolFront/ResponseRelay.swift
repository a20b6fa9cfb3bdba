import CEvent
import Glibc
import Logging
import TidepoolCore

/// Responses from instances to clients.
///
/// A head and end that arrive in one read batch become one whole reply
/// (`HTTPRequest.sendReply`) with a Content-Length. A head whose end has not arrived by the end of the
/// batch starts a streamed reply (chunked for HTTP/1.1 unless the app declared
/// a length), and each later batch's body goes out as one chunk, so a
/// streaming app's first bytes reach the client before its last are made.
///
/// Every request gets exactly one terminal call (`sendReply`, `endReply`, or
/// `abort`) and is never touched after it. A client that left is reported by
/// its connection (`clientGone`) and seen as `isClientGone` (DESIGN.md section 10).
extension HostRuntime {
    /// Response headers that describe the hop, not the content; the front sets its own.
    static func isHopByHop(_ lowerName: String) -> Bool {
        switch lowerName {
        case "connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade": true
        default: lowerName.hasPrefix("proxy-")
        }
    }

    func relayHead(_ id: UInt32, _ head: ResponseHead) {
        guard let pending = requests[id], pending.phase == .dispatched, pending.head == nil else { return }
        if rejectOversizedResponse(pending, head) { return }  // ResponseLimits.swift
        pending.head = withServerTiming(head, for: pending)
        markDirty(pending)
    }

    func relayBody(_ id: UInt32, from input: OpaquePointer, length: Int) {
        guard let pending = requests[id], !pending.replied, let head = pending.head,
              pending.responseHasBody(status: head.status) else {
            evbuffer_drain(input, length)
            return
        }
        evbuffer_remove_buffer(input, pending.body, length)
        markDirty(pending)
    }

    func relayEnd(_ id: UInt32, _ end: ResponseEnd, instance: InstanceRecord) {
        guard let pending = requests[id], pending.instance == instance.id else {
            // Already freed here (e.g. its client left): the slot is free all the same.
            report(.requestFinished(
                RequestID(UInt64(id)), instance: Self.scheduler(instance.id),
                cpu: .nanoseconds(Int64(clamping: end.cpuNanos)), wall: .nanoseconds(Int64(clamping: end.wallNanos)), now: now))
            return
        }
        requests[id] = nil
        instance.requests.remove(id)
        instance.served += 1
        metrics.invocationEnded(cpuNanos: end.cpuNanos)
        switch end.outcome {
        case .complete:
            if pending.replied {
                break
            } else if pending.phase == .streaming {
                finishStreaming(pending)
            } else if let head = pending.head {
                replyWhole(pending, head)
            } else {
                logger.error("instance \(instance.id) ended request \(id) without a response head")
                replyError(pending, .invocationFailed)
            }
        case .aborted(let reason):
            logger.warning("request \(id) was cut short by instance \(instance.id): \(reason)")
            if pending.phase == .streaming { abort(pending) } else { replyError(pending, .invocationFailed) }
        }
        report(.requestFinished(
            RequestID(UInt64(id)), instance: Self.scheduler(instance.id),
            cpu: .nanoseconds(Int64(clamping: end.cpuNanos)), wall: .nanoseconds(Int64(clamping: end.wallNanos)), now: now))
    }

    /// End of a read batch: heads without their end start streaming; streams get their new bytes.
    /// Called only from a channel's `onBatchEnd`, so never nested.
    func flushDirtyRequests() {
        swap(&dirtyRequests, &flushingRequests)
        defer { flushingRequests.removeAll(keepingCapacity: true) }
        for pending in flushingRequests {
            pending.dirty = false
            guard !pending.replied, requests[pending.id] === pending else { continue }
            if pending.phase == .dispatched, let head = pending.head {
                startStreaming(pending, head)
            } else if pending.phase == .streaming {
                flushChunk(pending)
            }
        }
    }

    /// The instance died holding this request: 502 if nothing was sent, else cut the connection.
    func failOnDeadInstance(_ pending: PendingRequest) {
        guard !pending.replied else { return }
        if pending.phase == .streaming { abort(pending) } else { replyError(pending, .noResponse) }
    }

    /// The request ran past maxDuration: 504 if nothing was sent, else cut the connection.
    func failTimedOut(_ pending: PendingRequest) {
        guard !pending.replied else { return }
        if pending.phase == .streaming { abort(pending) } else { replyError(pending, .invocationTimeout) }
    }

    // MARK: - Internals

    private func markDirty(_ pending: PendingRequest) {
        guard !pending.dirty else { return }
        pending.dirty = true
        dirtyRequests.append(pending)
    }

    private func replyWhole(_ pending: PendingRequest, _ head: ResponseHead) {
        guard let request = pending.request else { return }
        pending.request = nil
        pending.replied = true
        let hasBody = pending.responseHasBody(status: head.status)
        // With a body, the front writes the true Content-Length; without one (HEAD), the app's stays.
        _ = applyHeaders(head, to: request, keepContentLength: !hasBody)
        markClosingIfDraining(request)
        if request.isClientGone { replyEnded(request, status: 499) }  // nothing will be written
        request.sendReply(status: Int(head.status), reason: head.reason, body: hasBody ? pending.body : nil)
    }

    private func startStreaming(_ pending: PendingRequest, _ head: ResponseHead) {
        guard let request = pending.request else { return }
        guard !request.isClientGone else {
            clientLeft(pending)
            return
        }
        let hasBody = pending.responseHasBody(status: head.status)
        pending.declaredLength = applyHeaders(head, to: request, keepContentLength: true)
        markClosingIfDraining(request)
        if hasBody, pending.declaredLength == nil, request.versionMinor == 0 {
            // HTTP/1.0 has no chunked encoding: the body ends when the connection does.
            request.addHeader("Connection", "close")
        }
        request.startReply(status: Int(head.status), reason: head.reason)
        pending.phase = .streaming
        flushChunk(pending)
    }

    private func flushChunk(_ pending: PendingRequest) {
        guard let request = pending.request else { return }
        let length = evbuffer_get_length(pending.body)
        guard length > 0 else { return }
        guard !request.isClientGone else {
            clientLeft(pending)
            return
        }
        pending.bytesSent += length
        request.sendChunk(pending.body)
    }

    private func finishStreaming(_ pending: PendingRequest) {
        flushChunk(pending)
        guard let request = pending.request else { return }
        if let declared = pending.declaredLength, declared != pending.bytesSent {
            logger.warning("request \(pending.id): the app declared Content-Length \(declared) but sent \(pending.bytesSent) bytes")
            abort(pending)
            return
        }
        pending.request = nil
        pending.replied = true
        if request.isClientGone { replyEnded(request, status: 499) }
        request.endReply()
    }

    /// Ends the client's connection without completing the reply, so a cut-short
    /// body can never pass for a whole one: the socket is closed with a zero
    /// linger (RST), so even an HTTP/1.0 body delimited by the connection's
    /// close reads as an error. Logged with `status` (0: reset by us).
    private func abort(_ pending: PendingRequest, status: Int = 0) {
        guard let request = pending.request else { return }
        pending.request = nil
        pending.replied = true
        replyEnded(request, status: status)  // without completing
        request.abort()
    }

    /// The client disconnected: forget the request and ask the instance to stop working on it.
    func clientLeft(_ pending: PendingRequest) {
        guard let request = pending.request else { return }
        pending.request = nil
        pending.replied = true
        evbuffer_drain(pending.body, evbuffer_get_length(pending.body))
        replyEnded(request, status: 499)  // without completing
        if let id = pending.instance { instances[id]?.channel.send(.cancel(id: pending.id)) }
    }

    /// The client of a request still in the queue left (closed, or sent FIN):
    /// logged and counted as 499 like one that leaves while its instance
    /// works on it, not as the 502 a reply would have claimed, and its
    /// connection is closed.
    func clientLeftQueued(_ pending: PendingRequest) {
        abort(pending, status: 499)
    }

    /// A server reports the client of `request` gone before its reply was
    /// written: a request with an instance is cancelled there, a queued one
    /// leaves the queue (its place is free for the next request, instead of
    /// holding it until a sweep), both at once; a reply already handed over
    /// is counted as ended. The connection's read event stays armed while
    /// its request is served, so a close or FIN is seen as it arrives.
    func clientGone(_ request: HTTPRequest) {
        if let id = request.pendingID, let pending = requests[id], pending.request === request {
            if pending.phase == .queued { leaveQueue(pending) } else { clientLeft(pending) }
            return
        }
        if request.replyState == .finished { replyEnded(request, status: request.status, error: request.errorCode) }
    }

    /// Copies the app's headers onto the reply, minus hop-by-hop ones (and
    /// Content-Length unless kept). Returns the declared length, if kept and valid.
    private func applyHeaders(_ head: ResponseHead, to request: HTTPRequest, keepContentLength: Bool) -> Int? {
        // vercel.json headers were added at routing time: a header the app sets itself wins.
        // (Usually there are none: then nothing to remove, and no set to build.)
        if request.hasOutputHeaders {
            var seen: Set<[UInt8]> = []
            head.headers.forEach { name, _ in
                let name = Array(name)
                if seen.insert(name).inserted { request.removeHeaders(named: name) }
            }
        }
        var declared: Int?
        head.headers.forEach { name, value in
            // ASCII names (all real ones) are compared as bytes; others keep
            // the Unicode lowercasing they always had.
            let hopByHop: Bool, isContentLength: Bool
            if ASCIICase.isASCII(name) {
                (hopByHop, isContentLength) = (Self.isHopByHop(asciiName: name), ASCIICase.equals(name, "content-length"))
            } else {
                let lower = String(decoding: name, as: UTF8.self).lowercased()
                (hopByHop, isContentLength) = (Self.isHopByHop(lower), lower == "content-length")
            }
            if hopByHop { return }
            if isContentLength {
                guard keepContentLength else { return }
                declared = Self.decimal(value)
            }
            request.addHeader(name: name, value: value)
        }
        return declared
    }

    /// The app's Content-Length (spaces and tabs around it ignored), read by
    /// the rule requests are read by (`RequestFraming.contentLength`).
    static func decimal(_ value: UnsafeRawBufferPointer) -> Int? {
        RequestFraming.contentLength(RequestFraming.trim(value)).map { Int($0) }
    }

    /// `isHopByHop` for an ASCII name, without making a lowercased String; the
    /// length picks the one or two names it can be.
    private static func isHopByHop(asciiName name: UnsafeRawBufferPointer) -> Bool {
        switch name.count {
        case 2: if ASCIICase.equals(name, "te") { return true }
        case 7: if ASCIICase.equals(name, "trailer") || ASCIICase.equals(name, "upgrade") { return true }
        case 10: if ASCIICase.equals(name, "connection") || ASCIICase.equals(name, "keep-alive") { return true }
        case 17: if ASCIICase.equals(name, "transfer-encoding") { return true }
        default: break
        }
        return ASCIICase.hasPrefix(name, UnsafeRawBufferPointer(start: proxyPrefix.utf8Start, count: proxyPrefix.utf8CodeUnitCount))
    }

    private static let proxyPrefix: StaticString = "proxy-"

}
