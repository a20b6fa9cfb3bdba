import CEvent
import Glibc
import TidepoolCore

/// `--admin-port`: `/_tidepool/` served by a second evhttp server on the same
/// loop, bound to `adminHost` (loopback by default, so a public `--host` does
/// not expose the metrics). The main port then answers 404 for those paths.
extension HostRuntime {
    /// Whether `/_tidepool/` lives on the admin listener instead of the main port.
    var hasAdminListener: Bool { configuration.adminPort != nil }

    /// Binds the admin listener, enabled at once: metrics and status answer
    /// while instances are still starting.
    func bindAdmin() throws(HostError) {
        guard let port = configuration.adminPort else { return }
        guard let http = evhttp_new(loop.base) else { throw .httpServer }
        adminHTTP = http
        evhttp_set_allowed_methods(http, UInt16(EVHTTP_REQ_GET.rawValue | EVHTTP_REQ_HEAD.rawValue))
        evhttp_set_default_content_type(http, nil)
        evhttp_set_gencb(http, adminRequestCallback, Unmanaged.passUnretained(self).toOpaque())
        let fd = try ListenSocket.open(host: configuration.adminHost, port: port)
        let flags = UInt32(LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC)
        guard let listener = evconnlistener_new(loop.base, nil, nil, flags, 0, fd) else {
            Glibc.close(fd)
            throw .httpServer
        }
        guard evhttp_bind_listener(http, listener) != nil else {
            evconnlistener_free(listener)
            throw .httpServer
        }
        let shown = configuration.adminHost.contains(":") ? "[\(configuration.adminHost)]" : configuration.adminHost
        logger.info("admin (metrics, status, live page) on http://\(shown):\(port)/_tidepool/")
    }

    func freeAdmin() {
        if let adminHTTP { evhttp_free(adminHTTP) }
        adminHTTP = nil
    }
}

private func adminRequestCallback(_ request: UnsafeMutablePointer<evhttp_request>?, _ context: UnsafeMutableRawPointer?) {
    guard let request, let context else { return }
    Unmanaged<HostRuntime>.fromOpaque(context).takeUnretainedValue().handle(request, onAdmin: true)
}
