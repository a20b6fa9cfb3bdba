import CEvent
import CTidepoolLinux
import Glibc
import TidepoolCore

/// Requests for the app: placement through the scheduler, and the frames that carry
/// a request to its instance.
extension HostRuntime {
    /// Request headers that belong to the hop between client and front, or that
    /// only the front may set; the instance never sees the client's versions.
    static let droppedRequestHeaders: Set<String> = [
        "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade", "proxy-connection",
        "x-forwarded-for", "x-real-ip", "x-forwarded-proto", "x-forwarded-host",
    ]
    static let droppedRequestHeaderPrefixes = ["x-tidepool-", "x-vercel-internal-"]
    /// Body frames stay well below the frame limit and let the instance start reading early.
    static let bodyChunkBytes = 1 << 20

    /// A request for the app arrived: the scheduler places, queues or rejects it.
    func forward(_ request: HTTPRequest, rewrittenTarget: [UInt8]? = nil) {
        var id = nextRequestID
        while requests[id] != nil { id = id == UInt32.max ? 1 : id + 1 }  // wrapped onto a live one
        nextRequestID = id == UInt32.max ? 1 : id + 1
        let pending = PendingRequest(id: id, request: request)
        request.pendingID = id
        pending.rewrittenTarget = rewrittenTarget
        requests[id] = pending
        report(.requestArrived(RequestID(UInt64(id)), now: now))
    }

    /// Sends the request's head, body and end to the instance in one write.
    func dispatch(_ id: UInt32, to instanceID: UInt32) {
        let requestID = RequestID(UInt64(id))
        let schedulerInstance = Self.scheduler(instanceID)
        guard let pending = requests[id], pending.phase == .queued else {
            // Answered already, or placed again after its first instance died
            // within this same batch of actions: this dispatch is stale.
            if scheduler.running[requestID]?.instance == schedulerInstance {
                report(.requestFinished(requestID, instance: schedulerInstance, cpu: .zero, wall: .zero, now: now))
            }
            return
        }
        guard let request = pending.request else {
            requests[id] = nil
            report(.requestFinished(requestID, instance: schedulerInstance, cpu: .zero, wall: .zero, now: now))
            return
        }
        guard let instance = instances[instanceID], let output = instance.channel.output else {
            // Cannot happen while the scheduler and the records agree; answer rather than hang.
            requests[id] = nil
            replyError(pending, .noResponse)
            report(.requestFinished(requestID, instance: schedulerInstance, cpu: .zero, wall: .zero, now: now))
            return
        }
        guard let connection = request.connection else {
            // The client left while the request was queued: free it, free the slot.
            requests[id] = nil
            clientLeftQueued(pending)
            report(.requestFinished(requestID, instance: schedulerInstance, cpu: .zero, wall: .zero, now: now))
            return
        }
        pending.phase = .dispatched
        pending.instance = instanceID
        // An instance killed an instant ago (its EOF not processed yet) never
        // reads these frames: its death re-places the request (Supervisor.instanceDied).
        pending.queuedAt = instance.channel.bytesQueued
        pending.dispatchedAt = tp_monotonic_nanos()
        traceDispatched(request, instance: instanceID, at: pending.dispatchedAt)
        instance.requests.insert(id)

        let bodyLength = request.bodyLength
        let input: OpaquePointer? = bodyLength > 0 ? request.body : nil
        // The head (and the end, without a body) in one add, from stack memory.
        let peerPort = connection.peerPort
        connection.peerAddress.withUnsafeBytes { peer in
            request.headBytes.withUnsafeBytes { headBytes in
                // What is written comes from the head's bytes, the peer's address
                // (4 times at most), a rewritten target, or fixed text (under 512
                // bytes with the lengths of the 5 added headers). The head's
                // bytes go once, plus: the Host value again as X-Forwarded-Host
                // and as SERVER_NAME, and the client's X-Forwarded-For inside
                // ours — both repaired as UTF-8 there, where an invalid byte
                // becomes 3. Host and X-Forwarded-For values share the head, so
                // all of it is at most 5 times the head.
                let capacity = 512 + 5 * headBytes.count + 4 * peer.count + (pending.rewrittenTarget?.count ?? 0)
                    + RequestHeadWriter.bytesPerHeader * request.head.fields.count + configuration.host.utf8.count
                ByteCursor.withBytes(capacity: capacity, { frame in
                    appendRequestHead(
                        id: id, request, headBytes: headBytes, peer: peer, peerPort: peerPort, bodyLength: bodyLength,
                        rewrittenTarget: pending.rewrittenTarget, into: &frame)
                    if input == nil { FrameEncoder.encodeRequestEnd(id: id, into: &frame) }
                }, done: { _ = evbuffer_add(output, $0.baseAddress, $0.count) })
            }
        }
        if let input, bodyLength > 0 {
            var remaining = bodyLength
            while remaining > 0 {
                let chunk = min(remaining, Self.bodyChunkBytes)
                var header: [UInt8] = []
                FrameEncoder.encodeBody(kind: .requestBody, id: id, bytes: UnsafeRawBufferPointer(start: nil, count: 0), into: &header)
                Self.patchLength(&header, payload: chunk)
                evbuffer_add(output, header, header.count)
                evbuffer_remove_buffer(input, output, chunk)
                remaining -= chunk
            }
            ByteCursor.withBytes(capacity: FrameEncoder.headerSize, { FrameEncoder.encodeRequestEnd(id: id, into: &$0) }) {
                _ = evbuffer_add(output, $0.baseAddress, $0.count)
            }
        }
    }

    /// Rewrites a body frame header's length for a payload appended separately.
    private static func patchLength(_ header: inout [UInt8], payload: Int) {
        let length = UInt32(5 + payload)
        header[0] = UInt8(truncatingIfNeeded: length >> 24)
        header[1] = UInt8(truncatingIfNeeded: length >> 16)
        header[2] = UInt8(truncatingIfNeeded: length >> 8)
        header[3] = UInt8(truncatingIfNeeded: length)
    }

    /// Writes the request's head frame: what WSGI's environ needs — method,
    /// raw target, version, the client's headers (filtered) plus the
    /// forwarding headers, peer and server. Written straight from the head's
    /// bytes (`RequestHeadWriter`): no array or String per header.
    private func appendRequestHead(
        id: UInt32, _ request: HTTPRequest, headBytes: UnsafeRawBufferPointer, peer: UnsafeRawBufferPointer,
        peerPort: UInt16, bodyLength: Int, rewrittenTarget: [UInt8]?, into frame: inout ByteCursor
    ) {
        let method = request.methodText
        let major: UInt8 = 1, minor = request.versionMinor
        var writer: RequestHeadWriter
        if let rewrittenTarget {
            writer = rewrittenTarget.withUnsafeBytes {
                RequestHeadWriter(id: id, method: method, target: $0, versionMajor: major, versionMinor: minor, into: &frame)
            }
        } else {
            writer = RequestHeadWriter(
                id: id, method: method, target: UnsafeRawBufferPointer(rebasing: headBytes[request.head.target]),
                versionMajor: major, versionMinor: minor, into: &frame)
        }

        // Valid while the request lives (its head bytes).
        var hostHeader: UnsafeRawBufferPointer?
        var hadTransferEncoding = false
        var hadContentLength = false
        var clientForwardedFor: UnsafeRawBufferPointer?
        for field in request.head.fields {
            // Names are RFC 9110 tokens (ASCII): the parser refused any other request.
            let name = UnsafeRawBufferPointer(rebasing: headBytes[field.name])
            let value = UnsafeRawBufferPointer(rebasing: headBytes[field.value])
            if ASCIICase.equals(name, "host") { hostHeader = value }
            if ASCIICase.equals(name, "transfer-encoding") { hadTransferEncoding = true }
            if ASCIICase.equals(name, "content-length") { hadContentLength = true }
            if ASCIICase.equals(name, "x-forwarded-for") { clientForwardedFor = value }
            if Self.isDroppedRequestHeader(name) { continue }
            writer.header(name: name, value: value, into: &frame)
        }
        // A chunked body arrives decoded: tell the app its length instead.
        if hadTransferEncoding && !hadContentLength {
            writer.header("Content-Length", String(bodyLength), into: &frame)
        }
        if let clientForwardedFor, !clientForwardedFor.isEmpty, !configuration.trustedProxies.isEmpty {
            let peerText = String(decoding: peer, as: UTF8.self)
            writer.header("X-Forwarded-For", forwardedFor(clientHeader: Array(clientForwardedFor), peer: peerText), into: &frame)
        } else {
            writer.header("X-Forwarded-For", value: peer, into: &frame)  // what `ForwardedFor` answers then
        }
        writer.header("X-Real-IP", value: peer, into: &frame)
        writer.header("X-Forwarded-Proto", "http", into: &frame)
        if let hostHeader { writer.header("X-Forwarded-Host", value: hostHeader, into: &frame) }

        withServerName(hostHeader: hostHeader) { serverName in
            writer.end(
                remoteAddress: peer, remotePort: peerPort, serverName: serverName,
                serverPort: UInt16(clamping: configuration.port), scheme: "http", timeoutMillis: requestTimeoutMillis,
                into: &frame)
        }
    }

    private static let droppedRequestHeaderBytes = droppedRequestHeaders.map { Array($0.utf8) }
    private static let droppedRequestHeaderPrefixBytes = droppedRequestHeaderPrefixes.map { Array($0.utf8) }

    /// The first letters of `droppedRequestHeaders` and the prefixes, one bit
    /// per letter: most names (Host, Accept, …) are ruled out by one test.
    private static let droppedFirstLetters: UInt32 = (droppedRequestHeaderBytes + droppedRequestHeaderPrefixBytes)
        .reduce(0) { $0 | 1 << UInt32($1[0] - UInt8(ascii: "a")) }

    /// `droppedRequestHeaders` or a `droppedRequestHeaderPrefixes` name, compared as ASCII.
    private static func isDroppedRequestHeader(_ name: UnsafeRawBufferPointer) -> Bool {
        guard let first = name.first else { return false }
        let letter = ASCIICase.lower(first) &- UInt8(ascii: "a")
        guard letter < 26, droppedFirstLetters & (1 << UInt32(letter)) != 0 else { return false }
        for dropped in droppedRequestHeaderBytes where dropped.withUnsafeBytes({ ASCIICase.equals(name, $0) }) {
            return true
        }
        for prefix in droppedRequestHeaderPrefixBytes where prefix.withUnsafeBytes({ ASCIICase.hasPrefix(name, $0) }) {
            return true
        }
        return false
    }

    /// SERVER_NAME: the Host header without its port, else the listen address.
    /// An ASCII Host header is cut as bytes; any other goes through `serverName`.
    private func withServerName(hostHeader: UnsafeRawBufferPointer?, _ body: (UnsafeRawBufferPointer) -> Void) {
        if let hostHeader, !hostHeader.isEmpty, ASCIICase.isASCII(hostHeader) {
            let colon = UInt8(ascii: ":")
            if hostHeader[0] == UInt8(ascii: "["), let close = hostHeader.firstIndex(of: UInt8(ascii: "]")) {
                body(UnsafeRawBufferPointer(rebasing: hostHeader[1..<close]))
                return
            }
            // As `split(separator: ":", maxSplits: 1).first`: the first non-empty
            // run without a colon, or the whole value when there is none.
            guard let start = hostHeader.firstIndex(where: { $0 != colon }) else {
                body(hostHeader)
                return
            }
            let end = hostHeader[start...].firstIndex(of: colon) ?? hostHeader.endIndex
            body(UnsafeRawBufferPointer(rebasing: hostHeader[start..<end]))
            return
        }
        var name = serverName(hostHeader: hostHeader.map { Array($0) })
        name.withUTF8 { body(UnsafeRawBufferPointer($0)) }
    }

    /// SERVER_NAME: the Host header without its port, else the listen address.
    private func serverName(hostHeader: [UInt8]?) -> String {
        guard let hostHeader, !hostHeader.isEmpty else { return configuration.host }
        let host = String(decoding: hostHeader, as: UTF8.self)
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            return String(host[host.index(after: host.startIndex)..<close])
        }
        return host.split(separator: ":", maxSplits: 1).first.map(String.init) ?? host
    }
}
