import CEvent
import CTidepoolLinux
import Glibc
import Logging
import TidepoolCore

/// The IO shell of `RequestStreamGuard`: sees every byte a client sends
/// before evhttp parses it, so the front answers what evhttp 2.1 would answer
/// itself without our code (431 for a head over `maxHeaderBytes`, 413 for a
/// body over `maxRequestBodyBytes`, 400 for a bad chunk size) and enforces
/// total deadlines for receiving a head (`headerTimeout`) and a body
/// (`bodyTimeout`), which evhttp's per-read timeout cannot.
///
/// Hook: a callback on the input evbuffer of the socket bufferevent we make
/// in `evhttp_set_bevcb` (ConnectionLimit.swift). bufferevent_sock invokes it
/// synchronously inside each socket read, after the bytes are added and
/// before evhttp's read callback parses them. No second bufferevent: a filter
/// bufferevent cannot be used with evhttp 2.1 (it cannot take the socket:
/// `bufferevent_setfd` is unsupported on filters before 2.2), and costs a
/// copy of every byte both ways. Here the common case — a read holding whole
/// requests — costs a scan of the head bytes and moves nothing.
///
/// Holding back: the bytes of an incomplete head are moved out of the input
/// buffer into `held` (evhttp sees nothing of the head) and given back in
/// stream order once the head is complete and passed. So evhttp's own head
/// limit is never reached, and when the guard refuses a request evhttp has
/// seen none of it:
/// - Refused at a request boundary (a head, a declared body too large, or a
///   bad chunk in the same read as its head): every byte before the request
///   stays for evhttp, the request is replaced by a placeholder request
///   carrying a per-process secret (`GuardedRequest`), and everything after
///   it is dropped. evhttp parses the placeholder in order — after answering
///   any pipelined request before it — and `handle` answers it with our code
///   and `Connection: close`, counted and logged like any request.
/// - Refused mid-body (a bad chunk size or a body deadline in a later read):
///   evhttp has the head and answers no one until the body is complete, so
///   every earlier response has already been handed to the socket; the
///   answer is written straight to it, the write side is shut, and the
///   connection freed once the client closes or after `lingerSeconds`.
/// Nothing refused ever reached the pool: requests are dispatched only once
/// fully read, and the guard decides before evhttp has read them.
final class ConnectionGuard {
    var tracker: RequestStreamGuard
    /// Head bytes not yet given to evhttp.
    let held: OpaquePointer
    let bufferevent: OpaquePointer
    var entry: OpaquePointer?
    /// Refused: everything read from now on is dropped.
    var rejected = false
    /// Set while we move bytes in the input buffer (which calls us again).
    var rearranging = false

    /// The host owns every guard (`ConnectionLimit.guards`) and outlives them.
    unowned let runtime: HostRuntime

    init(runtime: HostRuntime, bufferevent: OpaquePointer) {
        self.runtime = runtime
        tracker = RequestStreamGuard(limits: runtime.guardLimits)
        held = evbuffer_new()
        self.bufferevent = bufferevent
    }

    deinit { evbuffer_free(held) }
}

/// The placeholder request that stands for a refused one inside evhttp.
enum GuardedRequest {
    static let headerName = "x-tidepool-guard"
    /// Random per process: a client cannot forge a placeholder (and client
    /// `x-tidepool-*` headers never reach the app anyway).
    static let secret: String = (0..<2).map { _ in String(UInt64.random(in: .min ... .max), radix: 16) }.joined(separator: "-")

    static func bytes(for code: ErrorCode) -> [UInt8] {
        Array("GET /.tidepool-guard HTTP/1.1\r\n\(headerName): \(secret) \(code.rawValue)\r\n\r\n".utf8)
    }

    static func code(headerValue: String) -> ErrorCode? {
        let parts = headerValue.split(separator: " ")
        guard parts.count == 2, parts[0] == secret else { return nil }
        return ErrorCode(rawValue: String(parts[1]))
    }
}

extension HostRuntime {
    /// How long a connection refused mid-body may stay open for the client
    /// to read the answer and close, before it is freed.
    static let lingerSeconds = 1

    var guardLimits: RequestStreamGuard.Limits {
        RequestStreamGuard.Limits(
            maxHeadBytes: configuration.maxHeaderBytes, maxTargetBytes: configuration.maxURIBytes,
            maxBodyBytes: Int64(configuration.maxRequestBodyBytes),
            headerTimeout: configuration.headerTimeoutSeconds, bodyTimeout: configuration.bodyTimeoutSeconds)
    }

    /// On a new connection's bufferevent, before evhttp uses it.
    func installGuard(_ bufferevent: OpaquePointer) {
        let connectionGuard = ConnectionGuard(runtime: self, bufferevent: bufferevent)
        connectionGuard.entry = evbuffer_add_cb(
            bufferevent_get_input(bufferevent), guardInputCallback,
            Unmanaged.passUnretained(connectionGuard).toOpaque())
        connections.guards[bufferevent] = connectionGuard
    }

    /// When the connection closes (its bufferevent still alive).
    func removeGuard(_ bufferevent: OpaquePointer?) {
        guard let bufferevent, let connectionGuard = connections.guards.removeValue(forKey: bufferevent) else { return }
        if let entry = connectionGuard.entry { evbuffer_remove_cb_entry(bufferevent_get_input(bufferevent), entry) }
    }

    /// A placeholder for a refused request: answered with its code. Returns
    /// true when `request` was one.
    func answerGuardRejection(_ request: UnsafeMutablePointer<evhttp_request>) -> Bool {
        guard let value = evhttp_find_header(evhttp_request_get_input_headers(request), GuardedRequest.headerName),
              let code = GuardedRequest.code(headerValue: String(cString: value))
        else { return false }
        evhttp_add_header(evhttp_request_get_output_headers(request), "Connection", "close")
        sendError(request, code)
        return true
    }

    /// `added` bytes were just read into `input` (at its end).
    fileprivate func guardRead(_ g: ConnectionGuard, input: OpaquePointer, added: Int) {
        if g.rearranging { return }
        if g.rejected {
            g.rearranging = true
            evbuffer_drain(input, evbuffer_get_length(input))
            g.rearranging = false
            return
        }
        let length = evbuffer_get_length(input)
        let unparsed = length - added  // given to evhttp earlier, not parsed yet
        let heldLength = evbuffer_get_length(g.held)
        // Stream offset of the first byte evhttp has not parsed.
        let parsed = g.tracker.received - Int64(heldLength) - Int64(unparsed)
        let verdict = feedGuard(g, input: input, from: unparsed, count: added)
        switch verdict {
        case .deliver(let upTo):
            let holdBack = Int(g.tracker.received - upTo)
            if heldLength == 0 && holdBack == 0 { return }  // whole requests: nothing to move
            rearrange(g, input: input, unparsed: unparsed, keep: unparsed + heldLength + added - holdBack, placeholder: nil)
        case .reject(let rejection, let requestStart):
            g.rejected = true
            let code = rejection.code
            logger.info("refused a request with \(code.status) \(code.rawValue): \(rejection.reason)")
            if requestStart >= parsed {
                rearrange(g, input: input, unparsed: unparsed, keep: Int(requestStart - parsed), placeholder: GuardedRequest.bytes(for: code))
            } else {
                answerMidBody(g, input: input, code: code)
            }
        }
    }

    private func feedGuard(_ g: ConnectionGuard, input: OpaquePointer, from start: Int, count: Int) -> RequestStreamGuard.Verdict {
        let now = Double(tp_monotonic_nanos()) / 1e9
        var verdict = RequestStreamGuard.Verdict.deliver(upTo: g.tracker.received)
        var offset = start
        let end = start + count
        withUnsafeTemporaryAllocation(of: iovec.self, capacity: 8) { vectors in
            var position = evbuffer_ptr()
            while offset < end {
                guard evbuffer_ptr_set(input, &position, offset, EVBUFFER_PTR_SET) == 0 else { return }
                let filled = Int(evbuffer_peek(input, end - offset, &position, vectors.baseAddress, 8))
                guard filled > 0 else { return }
                for vector in vectors.prefix(min(filled, 8)) where offset < end {
                    let length = min(vector.iov_len, end - offset)
                    verdict = g.tracker.feed(UnsafeRawBufferPointer(start: vector.iov_base, count: length), now: now)
                    offset += length
                    if case .reject = verdict { return }
                }
            }
        }
        return verdict
    }

    /// Rebuilds the input as evhttp must see it. The stream not yet parsed is
    /// `unparsed` bytes in the input, then `held`, then the bytes just read;
    /// its first `keep` bytes go to the input, followed by `placeholder` (the
    /// rest dropped) or, without one, the rest is held.
    private func rearrange(_ g: ConnectionGuard, input: OpaquePointer, unparsed: Int, keep: Int, placeholder: [UInt8]?) {
        g.rearranging = true
        defer { g.rearranging = false }
        guard let stream = evbuffer_new() else { return }
        defer { evbuffer_free(stream) }
        // Inside a socket read the input's end is not frozen; outside, it is.
        evbuffer_unfreeze(input, 0)
        defer { evbuffer_freeze(input, 0) }
        evbuffer_remove_buffer(input, stream, unparsed)
        evbuffer_add_buffer(stream, g.held)
        evbuffer_add_buffer(stream, input)
        evbuffer_remove_buffer(stream, input, keep)
        if let placeholder {
            evbuffer_add(input, placeholder, placeholder.count)
        } else {
            evbuffer_add_buffer(g.held, stream)
        }
    }

    /// evhttp is reading this request's body: answer on the socket itself.
    private func answerMidBody(_ g: ConnectionGuard, input: OpaquePointer, code: ErrorCode) {
        g.rearranging = true
        evbuffer_drain(input, evbuffer_get_length(input))
        evbuffer_drain(g.held, evbuffer_get_length(g.held))
        g.rearranging = false
        let bufferevent = g.bufferevent
        let fd = bufferevent_getfd(bufferevent)
        guard fd >= 0 else { return }
        // What evhttp queued and has not written yet (a `100 Continue`) goes first.
        let output = bufferevent_get_output(bufferevent)
        let pendingLength = evbuffer_get_length(output)
        var answer = [UInt8](repeating: 0, count: pendingLength)
        if pendingLength > 0 { evbuffer_remove(output, &answer, pendingLength) }
        answer += code.closingResponse
        _ = answer.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
        // FIN after the answer; reading goes on (and is dropped) so the close
        // does not reset the connection under the client's feet.
        shutdown(fd, Int32(SHUT_WR))
        bufferevent_incref(bufferevent)
        var delay = timeval(tv_sec: Self.lingerSeconds, tv_usec: 0)
        let linger = Unmanaged.passRetained(LingeringConnection(bufferevent: bufferevent)).toOpaque()
        if event_base_once(loop.base, -1, Int16(EV_TIMEOUT), lingerDoneCallback, linger, &delay) != 0 {
            Unmanaged<LingeringConnection>.fromOpaque(linger).release()
            lingerDone(bufferevent)
        }
    }
}

/// A connection refused mid-body, waiting to be freed.
final class LingeringConnection {
    let bufferevent: OpaquePointer
    init(bufferevent: OpaquePointer) { self.bufferevent = bufferevent }
}

/// Frees the connection unless evhttp already did (its callbacks are then
/// cleared), outside any evhttp callback; drops our reference.
private func lingerDone(_ bufferevent: OpaquePointer) {
    var readCallback: bufferevent_data_cb?
    var writeCallback: bufferevent_data_cb?
    var eventCallback: bufferevent_event_cb?
    var argument: UnsafeMutableRawPointer?
    bufferevent_getcb(bufferevent, &readCallback, &writeCallback, &eventCallback, &argument)
    if readCallback != nil, let argument { evhttp_connection_free(OpaquePointer(argument)) }
    bufferevent_decref(bufferevent)
}

private func lingerDoneCallback(_ fd: Int32, _ events: Int16, _ context: UnsafeMutableRawPointer?) {
    guard let context else { return }
    lingerDone(Unmanaged<LingeringConnection>.fromOpaque(context).takeRetainedValue().bufferevent)
}

private func guardInputCallback(
    _ buffer: OpaquePointer?, _ info: UnsafePointer<evbuffer_cb_info>?, _ context: UnsafeMutableRawPointer?
) {
    guard let buffer, let info, let context, info.pointee.n_added > 0 else { return }
    let connectionGuard = Unmanaged<ConnectionGuard>.fromOpaque(context).takeUnretainedValue()
    connectionGuard.runtime.guardRead(connectionGuard, input: buffer, added: Int(info.pointee.n_added))
}
