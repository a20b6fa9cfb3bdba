import CEvent
import Glibc
import Logging
import TidepoolCore

/// The evhttp server: the listening socket, and the routing of each request to
/// an internal route, a static file or the pool.
extension HostRuntime {
    /// Methods the front accepts (evhttp answers others, and PATCH/OPTIONS unless
    /// listed, with 501).
    static let allowedMethods: UInt16 = UInt16(
        EVHTTP_REQ_GET.rawValue | EVHTTP_REQ_HEAD.rawValue | EVHTTP_REQ_POST.rawValue | EVHTTP_REQ_PUT.rawValue
            | EVHTTP_REQ_PATCH.rawValue | EVHTTP_REQ_DELETE.rawValue | EVHTTP_REQ_OPTIONS.rawValue
    )

    /// Binds and listens right away, so a taken port fails before Python starts;
    /// connections wait in the kernel's backlog until every instance is ready
    /// (`enableFront`), instead of being refused.
    func bindFront() throws(HostError) {
        guard let http = evhttp_new(loop.base) else { throw .httpServer }
        self.http = http
        evhttp_set_allowed_methods(http, Self.allowedMethods)
        evhttp_set_max_body_size(http, configuration.maxRequestBodyBytes)
        configureFrontLimits(http)  // FrontGuard.swift
        configureConnectionLimit(http)  // ConnectionLimit.swift
        // Responses carry exactly the app's headers: no invented text/html type.
        evhttp_set_default_content_type(http, nil)
        evhttp_set_gencb(http, frontRequestCallback, Unmanaged.passUnretained(self).toOpaque())

        let fd = try ListenSocket.open(host: configuration.host, port: configuration.port)
        let flags = UInt32(LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_DISABLED)
        guard let listener = evconnlistener_new(loop.base, nil, nil, flags, 0, fd) else {
            Glibc.close(fd)
            throw .httpServer
        }
        guard let bound = evhttp_bind_listener(http, listener) else {
            evconnlistener_free(listener)
            throw .httpServer
        }
        boundSocket = bound
        self.listener = listener
        try bindAdmin()
    }

    func enableFront() {
        if let listener { evconnlistener_enable(listener) }
    }

    /// Closes the listening socket, so new connections are refused at once
    /// instead of waiting in the backlog; open keep-alive connections still get answers.
    func disableFront() {
        if let http, let boundSocket { evhttp_del_accept_socket(http, boundSocket) }  // frees the listener
        boundSocket = nil
        listener = nil
    }

    /// Frees the server: idle connections close, the port is released.
    /// Only once no request is waiting for an answer.
    func freeFront() {
        if let http { evhttp_free(http) }  // frees the bound listener too
        freeAdmin()
        if http != nil { releaseConnectionLimit() }  // ConnectionLimit.swift
        http = nil
        boundSocket = nil
        listener = nil
    }

    func tearDownFront() {
        freeFront()
    }

    /// One request from evhttp. Internal routes first (the app can never shadow
    /// `/_tidepool/`), then vercel.json rules and `public/` statics, then the pool.
    /// With an admin listener, `/_tidepool/` is only there (404 on the main port)
    /// and the admin listener serves nothing else.
    /// `/_tidepool/`: the host's own routes (metrics, status, live page).
    static let internalPrefix = Array("/_tidepool/".utf8)

    func handle(_ request: UnsafeMutablePointer<evhttp_request>, onAdmin: Bool = false) {
        // Counted until evhttp has written the whole reply, so a graceful stop
        // does not cut the tail of a large response still leaving the socket.
        repliesWriting += 1
        evhttp_request_set_on_complete_cb(request, replyCompleteCallback, Unmanaged.passUnretained(self).toOpaque())
        if !onAdmin { traceArrived(request) }  // before the guard: its 400/414 are counted and logged
        if answerGuardRejection(request) { return }  // RequestGuard.swift
        if rejectBadFraming(request) { return }  // FrontGuard.swift
        guard let uri = evhttp_request_get_uri(request) else {
            sendError(request, .malformedRequest)
            return
        }
        let target = Array(UnsafeRawBufferPointer(start: uri, count: strlen(uri)))
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
    func markClosingIfDraining(_ request: UnsafeMutablePointer<evhttp_request>) {
        guard phase != .serving else { return }
        evhttp_add_header(evhttp_request_get_output_headers(request), "Connection", "close")
    }
}

private func frontRequestCallback(_ request: UnsafeMutablePointer<evhttp_request>?, _ context: UnsafeMutableRawPointer?) {
    guard let request, let context else { return }
    Unmanaged<HostRuntime>.fromOpaque(context).takeUnretainedValue().handle(request)
}

private func replyCompleteCallback(_ request: UnsafeMutablePointer<evhttp_request>?, _ context: UnsafeMutableRawPointer?) {
    guard let context else { return }
    let runtime = Unmanaged<HostRuntime>.fromOpaque(context).takeUnretainedValue()
    runtime.repliesWriting -= 1
    if let request { runtime.traceCompleted(request) }
}

/// The listening socket, made here (not by evhttp) so it is close-on-exec from
/// the start and its errors name the address.
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
            // Accepted sockets inherit it (Linux): evhttp never sets it, and
            // Nagle would hold a streamed chunk behind an unacknowledged one.
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
