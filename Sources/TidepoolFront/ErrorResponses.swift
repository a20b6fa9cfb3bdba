import CEvent
import TidepoolCore

/// Error replies the client can see: Vercel's code in the `x-tidepool-error`
/// header and in a short plain-text body (DESIGN.md section 7).
extension HostRuntime {
    /// Answers `request` with `code` (its one terminal call: do not touch it afterwards).
    func sendError(_ request: HTTPRequest, _ code: ErrorCode) {
        request.errorCode = code
        request.addHeader(ErrorCode.headerName, code.rawValue)
        sendText(request, status: code.status, code.body)
    }

    /// A status without one of our codes (501 for a method the front does
    /// not serve, 417 for an unknown expectation), with its phrase as the body.
    func sendPlain(_ request: HTTPRequest, status: Int) {
        sendText(request, status: status, "\(status) \(ResponseHeadWriter.reasonPhrase(status))\n")
    }

    /// A short plain-text reply the front makes itself, never cached (with
    /// the status's standard phrase: `sendReply` writes it for a nil reason).
    private func sendText(_ request: HTTPRequest, status: Int, _ text: String) {
        // Nothing will be written: logged as the client leaving, as the relay does.
        if request.isClientGone { replyEnded(request, status: 499) }
        request.addHeader("Content-Type", "text/plain; charset=utf-8")
        request.addHeader("Cache-Control", "no-store")
        markClosingIfDraining(request)
        let body = evbuffer_new()
        defer { evbuffer_free(body) }
        let bytes = Array(text.utf8)
        evbuffer_add(body, bytes, bytes.count)
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
