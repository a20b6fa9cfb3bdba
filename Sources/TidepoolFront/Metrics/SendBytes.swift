import CEvent

extension HostRuntime {
    /// A 200 reply with `bytes` and no caching (internal routes change every second).
    func sendBytes(_ request: UnsafeMutablePointer<evhttp_request>, _ bytes: [UInt8], contentType: String) {
        let headers = evhttp_request_get_output_headers(request)
        evhttp_add_header(headers, "Content-Type", contentType)
        evhttp_add_header(headers, "Cache-Control", "no-store")
        markClosingIfDraining(request)
        let body = evbuffer_new()
        defer { evbuffer_free(body) }
        evbuffer_add(body, bytes, bytes.count)
        evhttp_send_reply(request, 200, "OK", body)
    }
}
