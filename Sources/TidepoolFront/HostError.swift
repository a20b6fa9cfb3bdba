import Glibc

/// Why the host could not start or keep serving, with what to do about it.
enum HostError: Error, CustomStringConvertible {
    case eventBase
    case httpServer
    case resolve(host: String, reason: String)
    case listen(host: String, port: Int, errno: Int32)
    case socketPair(errno: Int32)
    case spawn(executable: String, errno: Int32)
    case sendToTemplate(errno: Int32)
    /// The configured instance user cannot be used; the message says why and what to do.
    case instanceUser(String)
    /// The scheduler refused its configuration (the CLI validates first, so rare).
    case configuration(String)

    var description: String {
        switch self {
        case .eventBase:
            "libevent could not create an event base (out of memory or file descriptors?)"
        case .httpServer:
            "libevent could not create the HTTP server"
        case .resolve(let host, let reason):
            "cannot resolve listen address \(host): \(reason); pass --host with an IP address"
        case .listen(let host, let port, let code):
            "cannot listen on \(host):\(port): \(errnoText(code))"
                + (code == EADDRINUSE ? "; another process uses the port, pass --port" : "")
                + (code == EACCES ? "; ports below 1024 need privileges, pass --port" : "")
        case .socketPair(let code):
            "cannot create an instance channel (socketpair): \(errnoText(code)); raise the open-file limit (ulimit -n)"
        case .spawn(let executable, let code):
            "cannot start \(executable): \(errnoText(code))"
        case .sendToTemplate(let code):
            "cannot send a fork request to the template: \(errnoText(code))"
        case .instanceUser(let message):
            message
        case .configuration(let reason):
            "invalid scheduler configuration: \(reason)"
        }
    }
}

/// `strerror` text for an errno value.
func errnoText(_ code: Int32) -> String {
    String(cString: strerror(code))
}
