import CEvent
import TidepoolCore

/// Error replies the client can see: Vercel's code in the `x-tidepool-error`
/// header and in a short plain-text body (DESIGN.md section 7).
extension HostRuntime {
    /// Answers `request` with `code` (its one terminal call: do not touch it afterwards).
    func sendError(_ request: HTTPRequest, _ code: ErrorCode) {
        if request.isClientGone { replyEnded(request, status: Int(code.status), error: code) }  // nothing will be written
        request.errorCode = code
        request.addHeader(ErrorCode.headerName, code.rawValue)
        request.addHeader("Content-Type", "text/plain; charset=utf-8")
        request.addHeader("Cache-Control", "no-store")
        markClosingIfDraining(request)
        let body = evbuffer_new()
        defer { evbuffer_free(body) }
        let text = Array(code.body.utf8)
        evbuffer_add(body, text, text.count)
        request.sendReply(status: code.status, reason: code.reason, body: body)
    }

    /// A status without one of our codes (501 for a method the front does
    /// not serve, 417 for an unknown expectation), with its phrase as the body.
    func sendPlain(_ request: HTTPRequest, status: Int) {
        if request.isClientGone { replyEnded(request, status: status) }
        request.addHeader("Content-Type", "text/plain; charset=utf-8")
        request.addHeader("Cache-Control", "no-store")
        let body = evbuffer_new()
        defer { evbuffer_free(body) }
        let text = Array("\(status) \(ResponseHeadWriter.reasonPhrase(status))\n".utf8)
        evbuffer_add(body, text, text.count)
        request.sendReply(status: status, body: body)
    }

    /// Answers a pending request with `code` if it has not been answered yet.
    func replyError(_ pending: PendingRequest, _ code: ErrorCode) {
        guard let request = pending.request else { return }
        pending.request = nil
        pending.replied = true
        sendError(request, code)
    }
}
