import CEvent

extension HostRuntime {
    /// A 200 reply with `bytes` and no caching (internal routes change every second).
    func sendBytes(_ request: HTTPRequest, _ bytes: [UInt8], contentType: String) {
        request.addHeader("Content-Type", contentType)
        request.addHeader("Cache-Control", "no-store")
        markClosingIfDraining(request)
        let body = evbuffer_new()
        defer { evbuffer_free(body) }
        evbuffer_add(body, bytes, bytes.count)
        request.sendReply(status: 200, reason: "OK", body: body)
    }
}
