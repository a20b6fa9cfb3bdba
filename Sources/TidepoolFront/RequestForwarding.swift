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
    func forward(_ request: UnsafeMutablePointer<evhttp_request>, rewrittenTarget: [UInt8]? = nil) {
        var id = nextRequestID
        while requests[id] != nil { id = id == UInt32.max ? 1 : id + 1 }  // wrapped onto a live one
        nextRequestID = id == UInt32.max ? 1 : id + 1
        let pending = PendingRequest(id: id, request: request)
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
        guard let connection = evhttp_request_get_connection(request) else {
            // The client left while the request was queued: free it, free the slot.
            requests[id] = nil
            replyError(pending, .noResponse)
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

        let input = evhttp_request_get_input_buffer(request)
        let bodyLength = input.map { evbuffer_get_length($0) } ?? 0
        let head = requestHead(request, connection: connection, bodyLength: bodyLength, rewrittenTarget: pending.rewrittenTarget)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(512)
        FrameEncoder.encode(.requestHead(id: id, head), into: &bytes)
        evbuffer_add(output, bytes, bytes.count)
        if let input {
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
        }
        let end = FrameEncoder.encode(.requestEnd(id: id))
        evbuffer_add(output, end, end.count)
    }

    /// Rewrites a body frame header's length for a payload appended separately.
    private static func patchLength(_ header: inout [UInt8], payload: Int) {
        let length = UInt32(5 + payload)
        header[0] = UInt8(truncatingIfNeeded: length >> 24)
        header[1] = UInt8(truncatingIfNeeded: length >> 16)
        header[2] = UInt8(truncatingIfNeeded: length >> 8)
        header[3] = UInt8(truncatingIfNeeded: length)
    }

    /// What WSGI's environ needs: method, raw target, version, the client's
    /// headers (filtered) plus the forwarding headers, peer and server.
    private func requestHead(
        _ request: UnsafeMutablePointer<evhttp_request>, connection: OpaquePointer, bodyLength: Int,
        rewrittenTarget: [UInt8]?
    ) -> RequestHead {
        var peerAddress: UnsafeMutablePointer<CChar>?
        var peerPort: UInt16 = 0
        evhttp_connection_get_peer(connection, &peerAddress, &peerPort)
        let peer = peerAddress.map { String(cString: $0) } ?? ""

        var headers: [Header] = []
        var hostHeader: [UInt8]?
        var hadTransferEncoding = false
        var hadContentLength = false
        var clientForwardedFor: [UInt8]?
        if let input = evhttp_request_get_input_headers(request) {
            var entry = tp_evkeyvalq_first(input)
            while let current = entry {
                entry = tp_evkeyval_next(current)
                guard let keyPointer = current.pointee.key, let valuePointer = current.pointee.value else { continue }
                let name = Array(UnsafeRawBufferPointer(start: keyPointer, count: strlen(keyPointer)))
                let value = Array(UnsafeRawBufferPointer(start: valuePointer, count: strlen(valuePointer)))
                let lower = String(decoding: name, as: UTF8.self).lowercased()
                if lower == "host" { hostHeader = value }
                if lower == "transfer-encoding" { hadTransferEncoding = true }
                if lower == "content-length" { hadContentLength = true }
                if lower == "x-forwarded-for" { clientForwardedFor = value }
                if Self.droppedRequestHeaders.contains(lower)
                    || Self.droppedRequestHeaderPrefixes.contains(where: { lower.hasPrefix($0) }) {
                    continue
                }
                headers.append(Header(name: name, value: value))
            }
        }
        // A chunked body arrives decoded: tell the app its length instead.
        if hadTransferEncoding && !hadContentLength {
            headers.append(Header("Content-Length", String(bodyLength)))
        }
        headers.append(Header("X-Forwarded-For", forwardedFor(clientHeader: clientForwardedFor, peer: peer)))
        headers.append(Header("X-Real-IP", peer))
        headers.append(Header("X-Forwarded-Proto", "http"))
        if let hostHeader { headers.append(Header(name: Array("X-Forwarded-Host".utf8), value: hostHeader)) }

        let uri = evhttp_request_get_uri(request)
        let target = rewrittenTarget ?? uri.map { Array(UnsafeRawBufferPointer(start: $0, count: strlen($0))) } ?? Array("/".utf8)
        let timeout = min(configuration.maxDurationSeconds * 1000, Double(UInt32.max)).rounded()
        return RequestHead(
            method: Self.methodName(evhttp_request_get_command(request)),
            target: target,
            versionMajor: UInt8(bitPattern: request.pointee.major),
            versionMinor: UInt8(bitPattern: request.pointee.minor),
            headers: headers,
            remoteAddress: peer,
            remotePort: peerPort,
            serverName: serverName(hostHeader: hostHeader),
            serverPort: UInt16(clamping: configuration.port),
            scheme: "http",
            timeoutMillis: UInt32(timeout)
        )
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

    static func methodName(_ method: evhttp_cmd_type) -> String {
        switch method {
        case EVHTTP_REQ_GET: "GET"
        case EVHTTP_REQ_HEAD: "HEAD"
        case EVHTTP_REQ_POST: "POST"
        case EVHTTP_REQ_PUT: "PUT"
        case EVHTTP_REQ_PATCH: "PATCH"
        case EVHTTP_REQ_DELETE: "DELETE"
        case EVHTTP_REQ_OPTIONS: "OPTIONS"
        case EVHTTP_REQ_TRACE: "TRACE"
        case EVHTTP_REQ_CONNECT: "CONNECT"
        default: "GET"
        }
    }
}
