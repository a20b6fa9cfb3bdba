import CEvent
import Glibc
import TidepoolCore

/// `--admin-port`: `/_tidepool/` served by a second `HTTPServer` on the same
/// loop, bound to `adminHost` (loopback by default, so a public `--host` does
/// not expose the metrics). The main port then answers 404 for those paths.
extension HostRuntime {
    /// Whether `/_tidepool/` lives on the admin listener instead of the main port.
    var hasAdminListener: Bool { configuration.adminPort != nil }

    /// Binds the admin listener, enabled at once: metrics and status answer
    /// while instances are still starting.
    func bindAdmin() throws(HostError) {
        guard let port = configuration.adminPort else { return }
        let server = makeServer(allowedMethods: [.get, .head], maxConnections: nil, onAdmin: true)
        let fd = try ListenSocket.open(host: configuration.adminHost, port: port)
        try server.listen(fd: fd, enabled: true)
        admin = server
        let shown = configuration.adminHost.contains(":") ? "[\(configuration.adminHost)]" : configuration.adminHost
        logger.info("admin (metrics, status, live page) on http://\(shown):\(port)/_tidepool/")
    }

    func freeAdmin() {
        admin?.free()
        admin = nil
    }
}
