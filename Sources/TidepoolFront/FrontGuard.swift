import CEvent
import Glibc
import Logging
import TidepoolCore

/// The front's defences against bad or hostile clients, applied before any
/// routing: evhttp's own limits (head size, body size, client timeout) and the
/// framing checks evhttp does not make (`RequestFraming`).
///
/// Before evhttp parses anything, the request guard (RequestGuard.swift)
/// answers a head over `maxHeaderBytes` (431), a body over
/// `maxRequestBodyBytes` (413), a bad chunk size or ambiguous framing (400)
/// and a head or body past `headerTimeout`/`bodyTimeout` (408), each with our
/// code. evhttp's own limits below stay as a backstop the guard always beats.
/// What evhttp 2.1 still answers by itself, without calling us (so without
/// the `x-tidepool-error` header): 400 for a request line or header it cannot
/// parse. It closes the connection.
extension HostRuntime {
    /// Called once on the new evhttp server, before it accepts anything.
    func configureFrontLimits(_ http: OpaquePointer) {
        evhttp_set_max_headers_size(http, configuration.maxHeaderBytes)
        var timeout = timeval(
            tv_sec: Int(configuration.clientTimeoutSeconds),
            tv_usec: Int((configuration.clientTimeoutSeconds.truncatingRemainder(dividingBy: 1)) * 1_000_000)
        )
        // Read and write timeout of client connections: a client that goes silent
        // while sending (or does not read its response) is cut after this long.
        // One trickling bytes faster is cut by the guard's total deadlines.
        // Requests only reach the pool once fully read, so a slow client never
        // holds an instance slot.
        evhttp_set_timeout_tv(http, &timeout)
    }

    /// Answers and returns true when the request must not go further:
    /// 400 MALFORMED_REQUEST or 414 URL_TOO_LONG, then the connection closes.
    func rejectBadFraming(_ request: UnsafeMutablePointer<evhttp_request>) -> Bool {
        let target = evhttp_request_get_uri(request).map { Array(UnsafeRawBufferPointer(start: $0, count: strlen($0))) } ?? []
        var headers: [(name: [UInt8], value: [UInt8])] = []
        if let input = evhttp_request_get_input_headers(request) {
            var entry = tp_evkeyvalq_first(input)
            while let current = entry {
                entry = tp_evkeyval_next(current)
                guard let key = current.pointee.key, let value = current.pointee.value else { continue }
                headers.append((
                    Array(UnsafeRawBufferPointer(start: key, count: strlen(key))),
                    Array(UnsafeRawBufferPointer(start: value, count: strlen(value)))
                ))
            }
        }
        let verdict = RequestFraming.check(
            headers: headers, target: target, maxTargetLength: configuration.maxURIBytes)
        let code: ErrorCode
        switch verdict {
        case .accept:
            return false
        case .malformed(let reason):
            logger.info("rejected a malformed request: \(reason)")
            code = .malformedRequest
        case .uriTooLong:
            logger.info("rejected a request target of \(target.count) bytes (maxURIBytes \(configuration.maxURIBytes))")
            code = .urlTooLong
        }
        // Whatever follows on this connection cannot be trusted to start where
        // this request ends: close it after the answer.
        evhttp_add_header(evhttp_request_get_output_headers(request), "Connection", "close")
        sendError(request, code)
        return true
    }

    /// `X-Forwarded-For` for the app (see `ForwardedFor`).
    func forwardedFor(clientHeader: [UInt8]?, peer: String) -> String {
        ForwardedFor.value(
            clientHeader: clientHeader.map { String(decoding: $0, as: UTF8.self) },
            peer: peer, trusted: configuration.trustedProxies)
    }
}
