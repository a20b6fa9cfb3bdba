import CEvent
import Glibc
import Logging
import TidepoolCore
import TidepoolProject

/// An HTTP/1.1 server on the host's libevent loop: a listening socket
/// (`evconnlistener`), its open `ClientConnection`s, and the hooks into the
/// host. Replaces evhttp; the main port and the admin listener are two of these.
///
/// `maxConnections`: a connection accepted over the limit gets
/// `refusal` (503 with our code) written straight to it and is closed, before
/// anything is read. Connections already open are never touched.
final class HTTPServer {
    let base: OpaquePointer
    let limits: RequestParser.Limits
    let allowedMethods: Set<HTTPMethod>
    let maxConnections: Int?
    /// The idle keep-alive and write timeout of client connections.
    var clientTimeout: timeval
    /// Each complete (or refused) request; the handler answers it now or later.
    let handler: (HTTPRequest) -> Void
    /// A reply was fully written to its client.
    var onComplete: (HTTPRequest) -> Void = { _ in }
    /// The client of a request handed to `handler` and not yet fully answered left.
    var onClientGone: (HTTPRequest) -> Void = { _ in }
    var logger: Logger

    private var listener: OpaquePointer?
    private var connections: [ObjectIdentifier: ClientConnection] = [:]
    /// Connections refused since start (for the log).
    private var refused = 0
    /// Set once the server is shutting down: replies close their connection.
    private(set) var closing = false

    init(
        base: OpaquePointer, limits: RequestParser.Limits, allowedMethods: Set<HTTPMethod>, maxConnections: Int?,
        clientTimeoutSeconds: Double, logger: Logger, handler: @escaping (HTTPRequest) -> Void
    ) {
        self.base = base
        self.limits = limits
        self.allowedMethods = allowedMethods
        self.maxConnections = maxConnections
        self.clientTimeout = timeval(seconds: clientTimeoutSeconds)
        self.logger = logger
        self.handler = handler
    }

    /// Listens on `fd` (owned from now on); `enabled: false` leaves new
    /// connections in the kernel's backlog until `enable`.
    func listen(fd: Int32, enabled: Bool) throws(HostError) {
        var flags = UInt32(LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC)
        if !enabled { flags |= UInt32(LEV_OPT_DISABLED) }
        let context = Unmanaged.passUnretained(self).toOpaque()
        guard let listener = evconnlistener_new(base, acceptCallback, context, flags, 0, fd) else {
            Glibc.close(fd)
            throw .httpServer
        }
        self.listener = listener
    }

    func enable() {
        if let listener { evconnlistener_enable(listener) }
    }

    /// Closes the listening socket: new connections are refused at once;
    /// open ones go on (their replies ask to close: `closing`).
    func stopListening() {
        if let listener { evconnlistener_free(listener) }
        listener = nil
        closing = true
    }

    /// Closes the listening socket and every connection.
    func free() {
        stopListening()
        for connection in Array(connections.values) { connection.close(reset: false) }
        connections.removeAll()
    }

    fileprivate func accepted(fd: Int32, address: UnsafeMutablePointer<sockaddr>?, length: Int32) {
        if let maxConnections, connections.count >= maxConnections {
            refuse(fd, maxConnections: maxConnections)
            return
        }
        let (peer, port) = Self.numericPeer(address)
        let connection = ClientConnection(fd: fd, server: self, peerAddress: peer, peerPort: port)
        connections[ObjectIdentifier(connection)] = connection
        connection.open()
    }

    func remove(_ connection: ClientConnection) {
        connections[ObjectIdentifier(connection)] = nil
    }

    private func refuse(_ fd: Int32, maxConnections: Int) {
        _ = Self.refusal.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
        Glibc.close(fd)
        refused += 1
        if refused == 1 || refused.isMultiple(of: 1000) {
            logger.warning("refused a connection: \(connections.count) are open (maxConnections \(maxConnections)); \(refused) refused so far")
        }
    }

    /// A request refused while being read (counted in the log only; the host answers it).
    func noteRejected(_ rejection: RequestParser.Rejection) {
        logger.info("refused a request with \(rejection.status): \(rejection.reason)")
    }

    /// The whole answer to a connection over `maxConnections`.
    static let refusal: [UInt8] = {
        let body = "503: \(ErrorCode.throttled.rawValue)\nToo many open connections; try again shortly.\n"
        return Array("""
            HTTP/1.1 503 Service Unavailable\r
            Content-Type: text/plain; charset=utf-8\r
            Content-Length: \(body.utf8.count)\r
            \(ErrorCode.headerName): \(ErrorCode.throttled.rawValue)\r
            Connection: close\r
            \r
            \(body)
            """.utf8)
    }()

    /// The peer's numeric address and port (as evhttp formatted them).
    static func numericPeer(_ address: UnsafeMutablePointer<sockaddr>?) -> ([UInt8], UInt16) {
        guard let address else { return ([], 0) }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                var addr = v4.pointee.sin_addr
                inet_ntop(AF_INET, &addr, &text, socklen_t(text.count))
                return (Array(text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }), UInt16(bigEndian: v4.pointee.sin_port))
            }
        case AF_INET6:
            return address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                var addr = v6.pointee.sin6_addr
                inet_ntop(AF_INET6, &addr, &text, socklen_t(text.count))
                return (Array(text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }), UInt16(bigEndian: v6.pointee.sin6_port))
            }
        default:
            return ([], 0)
        }
    }

    // MARK: Date

    private var dateSecond = -1
    private var dateLine: [UInt8] = []

    /// `Date: …\r\n` for this second (HTTP/1.1 origin servers send it).
    func dateHeader() -> [UInt8] {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME_COARSE, &now)
        if now.tv_sec != dateSecond {
            dateSecond = now.tv_sec
            dateLine = Array("Date: \(HTTPDate.format(now.tv_sec))\r\n".utf8)
        }
        return dateLine
    }
}

private func acceptCallback(
    _ listener: OpaquePointer?, _ fd: Int32, _ address: UnsafeMutablePointer<sockaddr>?, _ length: Int32,
    _ context: UnsafeMutableRawPointer?
) {
    guard let context else { return }
    Unmanaged<HTTPServer>.fromOpaque(context).takeUnretainedValue().accepted(fd: fd, address: address, length: length)
}
