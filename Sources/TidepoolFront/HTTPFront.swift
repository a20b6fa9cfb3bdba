import CEvent
import Glibc
import Logging
import TidepoolCore

/// The front's HTTP server (HTTP/HTTPServer.swift): the listening socket, and
/// the routing of each request to an internal route, a static file or the pool.
extension HostRuntime {
    /// Methods the front serves; others are answered 501 and the connection closes.
    static let allowedMethods: Set<HTTPMethod> = [.get, .head, .post, .put, .patch, .delete, .options]

    var parserLimits: RequestParser.Limits {
        RequestParser.Limits(
            maxHeadBytes: configuration.maxHeaderBytes, maxTargetBytes: configuration.maxURIBytes,
            maxBodyBytes: Int64(configuration.maxRequestBodyBytes),
            headerTimeout: configuration.headerTimeoutSeconds, bodyTimeout: configuration.bodyTimeoutSeconds)
    }

    /// A server on the loop whose requests go to `handle`, with the host's completion hooks.
    func makeServer(allowedMethods: Set<HTTPMethod>, maxConnections: Int?, onAdmin: Bool) -> HTTPServer {
        let server = HTTPServer(
            base: loop.base, limits: parserLimits, allowedMethods: allowedMethods, maxConnections: maxConnections,
            clientTimeoutSeconds: configuration.clientTimeoutSeconds, logger: logger
        ) { [unowned self] request in handle(request, onAdmin: onAdmin) }
        server.onComplete = { [unowned self] request in
            replyEnded(request, status: request.status, error: request.errorCode)
        }
        server.onClientGone = { [unowned self] request in clientGone(request) }
        return server
    }

    /// Binds and listens right away, so a taken port fails before Python starts;
    /// connections wait in the kernel's backlog until every instance is ready
    /// (`enableFront`), instead of being refused.
    func bindFront() throws(HostError) {
        let server = makeServer(
            allowedMethods: Self.allowedMethods, maxConnections: configuration.maxConnections, onAdmin: false)
        let fd = try ListenSocket.open(host: configuration.host, port: configuration.port)
        try server.listen(fd: fd, enabled: false)
        front = server
        try bindAdmin()
    }

    func enableFront() {
        front?.enable()
    }

    /// Closes the listening socket, so new connections are refused at once
    /// instead of waiting in the backlog; open keep-alive connections still get answers.
    func disableFront() {
        front?.stopListening()
    }

    /// Closes the servers: every connection closes, the port is released.
    /// Only once no request is waiting for an answer.
    func freeFront() {
        front?.free()
        front = nil
        freeAdmin()
    }

    func tearDownFront() {
        freeFront()
    }

    /// `/_tidepool/`: the host's own routes (metrics, status, live page).
    static let internalPrefix = Array("/_tidepool/".utf8)

    /// One request from a server. Refusals first (answered with their code,
    /// then the connection closes), internal routes next (the app can never
    /// shadow `/_tidepool/`), then vercel.json rules and `public/` statics,
    /// then the pool. With an admin listener, `/_tidepool/` is only there (404
    /// on the main port) and the admin listener serves nothing else.
    func handle(_ request: HTTPRequest, onAdmin: Bool = false) {
        // Counted until the whole reply is written, so a graceful stop does
        // not cut the tail of a large response still leaving the socket.
        repliesWriting += 1
        if !onAdmin { traceArrived(request) }  // refusals are counted and logged too
        if let rejection = request.rejection {
            request.addHeader("Connection", "close")
            if let code = rejection.code { sendError(request, code) } else { sendPlain(request, status: rejection.status) }
            return
        }
        let target = request.target  // a view of the head's bytes: no copy
        let path = URLPath.decodedPath(ofTarget: target)
        if path.elementsEqual(Self.internalPrefix.dropLast()) || path.starts(with: Self.internalPrefix) {
            untrace(request)  // `/_tidepool/` is not traffic
            if hasAdminListener && !onAdmin { sendError(request, .notFound) } else { serveInternal(request, path: path) }
            return
        }
        if onAdmin {
            sendError(request, .notFound)
            return
        }
        traceRouted(request, path: path)
        routeRequest(request, target: target, path: path)  // FrontRouting.swift
    }

    /// During shutdown, responses ask keep-alive clients to go away.
    func markClosingIfDraining(_ request: HTTPRequest) {
        guard phase != .serving else { return }
        request.addHeader("Connection", "close")
    }
}

/// The listening socket, made here so it is close-on-exec from the start and
/// its errors name the address.
enum ListenSocket {
    static func open(host: String, port: Int) throws(HostError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var result: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &result)
        guard status == 0, let first = result else {
            throw .resolve(host: host, reason: String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(result) }
        var lastError: Int32 = EADDRNOTAVAIL
        var info: UnsafeMutablePointer<addrinfo>? = first
        while let current = info {
            info = current.pointee.ai_next
            let type = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
            let fd = socket(current.pointee.ai_family, type, 0)
            guard fd >= 0 else { lastError = errno; continue }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            // Accepted sockets inherit it (Linux): Nagle would hold a
            // streamed chunk behind an unacknowledged one.
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            if bind(fd, current.pointee.ai_addr, current.pointee.ai_addrlen) == 0, listen(fd, 1024) == 0 {
                return fd
            }
            lastError = errno
            Glibc.close(fd)
        }
        throw .listen(host: host, port: port, errno: lastError)
    }
}
