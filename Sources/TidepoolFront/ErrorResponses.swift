import CEvent
import TidepoolCore

/// Error replies the client can see: Vercel's code in the `x-tidepool-error`
/// header and in a short plain-text body (DESIGN.md section 7).
extension HostRuntime {
    /// Answers `request` with `code` (its one terminal call: do not touch it afterwards).
    func sendError(_ request: UnsafeMutablePointer<evhttp_request>, _ code: ErrorCode) {
        if evhttp_request_get_connection(request) == nil {  // only freed: no completion
            repliesWriting -= 1
            traceEnded(request, status: Int(code.status), error: code)
        }
        let headers = evhttp_request_get_output_headers(request)
        evhttp_add_header(headers, ErrorCode.headerName, code.rawValue)
        evhttp_add_header(headers, "Content-Type", "text/plain; charset=utf-8")
        evhttp_add_header(headers, "Cache-Control", "no-store")
        markClosingIfDraining(request)
        let body = evbuffer_new()
        defer { evbuffer_free(body) }
        let text = Array(code.body.utf8)
        evbuffer_add(body, text, text.count)
        evhttp_send_reply(request, Int32(code.status), code.reason, body)
    }

    /// Answers a pending request with `code` if it has not been answered yet.
    func replyError(_ pending: PendingRequest, _ code: ErrorCode) {
        guard let request = pending.request else { return }
        pending.request = nil
        pending.replied = true
        sendError(request, code)
    }
}
