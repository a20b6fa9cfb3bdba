import CEvent
import Glibc
import Logging
import TidepoolCore

/// Responses from instances to clients.
///
/// A head and end that arrive in one read batch become one `evhttp_send_reply`
/// with a Content-Length. A head whose end has not arrived by the end of the
/// batch starts a streamed reply (chunked for HTTP/1.1 unless the app declared
/// a length), and each later batch's body goes out as one chunk, so a
/// streaming app's first bytes reach the client before its last are made.
///
/// Every evhttp request gets exactly one terminal call (`evhttp_send_reply`,
/// `evhttp_send_reply_end`, or `evhttp_connection_free` to abort) and is never
/// touched after it. A client that left is detected by a nil connection; evhttp
/// frees such a request on that terminal call (DESIGN.md section 10).
extension HostRuntime {
    /// Response headers that describe the hop, not the content; evhttp sets its own.
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
    func flushDirtyRequests() {
        let batch = dirtyRequests
        dirtyRequests.removeAll(keepingCapacity: true)
        for pending in batch {
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
        // With a body, evhttp writes the true Content-Length; without one (HEAD), the app's stays.
        _ = applyHeaders(head, to: request, keepContentLength: !hasBody)
        markClosingIfDraining(request)
        let connection = evhttp_request_get_connection(request)
        sendReply(request, head) { evhttp_send_reply(request, Int32(head.status), $0, hasBody ? pending.body : nil) }
        if let connection { ReplyWriteThrough.flush(connection) }  // the request may be freed from here on
    }

    private func startStreaming(_ pending: PendingRequest, _ head: ResponseHead) {
        guard let request = pending.request else { return }
        guard evhttp_request_get_connection(request) != nil else {
            clientLeft(pending)
            return
        }
        let hasBody = pending.responseHasBody(status: head.status)
        pending.declaredLength = applyHeaders(head, to: request, keepContentLength: true)
        markClosingIfDraining(request)
        if hasBody, pending.declaredLength == nil, request.pointee.major == 1, request.pointee.minor == 0 {
            // HTTP/1.0 has no chunked encoding: the body ends when the connection does.
            evhttp_add_header(evhttp_request_get_output_headers(request), "Connection", "close")
        }
        sendReply(request, head) { evhttp_send_reply_start(request, Int32(head.status), $0) }
        pending.phase = .streaming
        flushChunk(pending)
    }

    private func flushChunk(_ pending: PendingRequest) {
        guard let request = pending.request else { return }
        let length = evbuffer_get_length(pending.body)
        guard length > 0 else { return }
        guard evhttp_request_get_connection(request) != nil else {
            clientLeft(pending)
            return
        }
        pending.bytesSent += length
        evhttp_send_reply_chunk(request, pending.body)
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
        evhttp_send_reply_end(request)
    }

    /// Ends the client's connection without completing the reply, so a cut-short
    /// body can never pass for a whole one. Freeing the connection frees the request.
    private func abort(_ pending: PendingRequest) {
        guard let request = pending.request else { return }
        pending.request = nil
        pending.replied = true
        repliesWriting -= 1  // freed without completing
        traceEnded(request, status: 0)
        if let connection = evhttp_request_get_connection(request) {
            if let bufferEvent = evhttp_connection_get_bufferevent(connection) {
                Self.resetConnection(fd: bufferevent_getfd(bufferEvent))
            }
            evhttp_connection_free(connection)
        } else {
            evhttp_send_reply_end(request)  // client already gone: this only frees the request
        }
    }

    /// Makes the client see a reset, not an orderly end: even an HTTP/1.0 body
    /// delimited by the connection's close then reads as an error. evhttp would
    /// `shutdown` (FIN) before closing, so the socket is closed here with a zero
    /// linger (RST) by putting a fresh unconnected socket in its place; evhttp
    /// then shuts down and closes that one harmlessly.
    private static func resetConnection(fd: Int32) {
        guard fd >= 0 else { return }
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        let placeholder = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard placeholder >= 0 else { return }
        dup2(placeholder, fd)  // closes the client socket: RST
        Glibc.close(placeholder)
    }

    /// The client disconnected: free the request and ask the instance to stop working on it.
    private func clientLeft(_ pending: PendingRequest) {
        guard let request = pending.request else { return }
        pending.request = nil
        pending.replied = true
        evbuffer_drain(pending.body, evbuffer_get_length(pending.body))
        repliesWriting -= 1  // freed without completing
        traceEnded(request, status: 499)
        if pending.phase == .streaming { evhttp_send_reply_end(request) } else { evhttp_send_reply(request, 499, "Client Closed Request", nil) }
        if let id = pending.instance { instances[id]?.channel.send(.cancel(id: pending.id)) }
    }

    /// Copies the app's headers onto the reply, minus hop-by-hop ones (and
    /// Content-Length unless kept). Returns the declared length, if kept and valid.
    private func applyHeaders(
        _ head: ResponseHead, to request: UnsafeMutablePointer<evhttp_request>, keepContentLength: Bool
    ) -> Int? {
        let output = evhttp_request_get_output_headers(request)
        // vercel.json headers were added at routing time: a header the app sets itself wins.
        // (Usually there are none: then nothing to remove, and no set to build.)
        var seen: Set<[UInt8]> = []
        let routeHeaders = output.map { tp_evkeyvalq_first($0) != nil } ?? false
        for header in head.headers where routeHeaders && !header.name.contains(0) && seen.insert(header.name).inserted {
            (header.name + [0]).withUnsafeBufferPointer { name in
                name.withMemoryRebound(to: CChar.self) { name in
                    while evhttp_remove_header(output, name.baseAddress) == 0 {}
                }
            }
        }
        var declared: Int?
        for header in head.headers {
            // ASCII names (all real ones) are compared as bytes; others keep
            // the Unicode lowercasing they always had.
            let (hopByHop, isContentLength) = header.name.withUnsafeBytes { name in
                if ASCIICase.isASCII(name) { return (Self.isHopByHop(asciiName: name), ASCIICase.equals(name, "content-length")) }
                let lower = String(decoding: name, as: UTF8.self).lowercased()
                return (Self.isHopByHop(lower), lower == "content-length")
            }
            if hopByHop { continue }
            if isContentLength {
                guard keepContentLength else { continue }
                declared = Int(String(decoding: header.value, as: UTF8.self).trimmingCharacters(in: " \t"))
            }
            guard !header.name.contains(0), !header.value.contains(0) else { continue }
            Self.withCString(header.name) { name in
                Self.withCString(header.value) { value in _ = evhttp_add_header(output, name, value) }
            }
        }
        return declared
    }

    /// `isHopByHop` for an ASCII name, without making a lowercased String.
    private static func isHopByHop(asciiName name: UnsafeRawBufferPointer) -> Bool {
        ASCIICase.equals(name, "connection") || ASCIICase.equals(name, "keep-alive")
            || ASCIICase.equals(name, "transfer-encoding") || ASCIICase.equals(name, "te")
            || ASCIICase.equals(name, "trailer") || ASCIICase.equals(name, "upgrade")
            || ASCIICase.hasPrefix(name, UnsafeRawBufferPointer(start: proxyPrefix.utf8Start, count: proxyPrefix.utf8CodeUnitCount))
    }

    private static let proxyPrefix: StaticString = "proxy-"

    /// `bytes` (no NUL inside) as a C string, on the stack when small.
    private static func withCString(_ bytes: [UInt8], _ body: (UnsafePointer<CChar>) -> Void) {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: bytes.count + 1) { buffer in
            bytes.withUnsafeBytes { UnsafeMutableRawBufferPointer(buffer).copyMemory(from: $0) }
            buffer[bytes.count] = 0
            body(UnsafePointer(buffer.baseAddress!))
        }
    }

    /// Calls `send` with the reason phrase as a C string (nil: evhttp's standard phrase).
    private func sendReply(
        _ request: UnsafeMutablePointer<evhttp_request>, _ head: ResponseHead,
        _ send: (UnsafePointer<CChar>?) -> Void
    ) {
        if head.reason.isEmpty || head.reason.utf8.contains(where: { $0 < 0x20 }) {
            send(nil)
        } else {
            head.reason.withCString { send($0) }
        }
    }
}

private extension String {
    func trimmingCharacters(in set: String) -> String {
        let skip = Set(set)
        return String(drop { skip.contains($0) }.reversed().drop { skip.contains($0) }.reversed())
    }
}
