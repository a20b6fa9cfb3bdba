import CEvent
import CTidepoolLinux
import Glibc
import TidepoolCore

/// One client's socket: reads requests with `RequestParser`, one at a time,
/// and writes their replies. Replaces evhttp's connection and bufferevent.
///
/// Reading: one persistent read event for the connection's life (no
/// `epoll_ctl` per request); each readable event is one `read` into our own
/// buffer (no `FIONREAD`, no evbuffer chain), parsed in place. A request is
/// handed over once its body is complete; requests pipelined behind it wait
/// in the buffer until its reply is written (reading pauses if a lot piles
/// up). The read event's timeout is the idle `clientTimeout` while a request
/// is being read or awaited; it is ignored while a request is with the host.
///
/// Writing: replies go into an evbuffer (so files go out with
/// `evbuffer_add_file`/sendfile) written through at once with one
/// `evbuffer_write`; a write event (with `clientTimeout` as write timeout)
/// is added only while the socket is full.
///
/// Closing: after a reply that ends the connection; on end of file or error
/// (the request being served is told its client is gone); after a refused
/// request, the write side is shut and what the client still sends is read
/// and dropped until it closes or `lingerSeconds` pass, so the answer is not
/// destroyed by a reset.
final class ClientConnection {
    let fd: Int32
    unowned let server: HTTPServer
    /// The peer's numeric address (ASCII) and port.
    let peerAddress: [UInt8]
    let peerPort: UInt16
    private var readEvent: OpaquePointer?
    private var writeEvent: OpaquePointer?
    private let output: OpaquePointer
    private var parser: RequestParser

    /// Read bytes live in [start, end) of `buffer`.
    private var buffer: UnsafeMutableRawPointer
    private var capacity: Int
    private var start = 0
    private var end = 0

    /// The request being read (after its head) or answered.
    private var current: HTTPRequest?
    /// The current request was handed to the server: no parsing until its reply is written.
    private var handedOver = false
    private var lingering = false
    private var processing = false
    private(set) var closed = false

    static let initialCapacity = 16 * 1024
    /// Unparsed bytes held while a request is served before reading pauses.
    static let pauseAbove = 256 * 1024
    static let lingerSeconds = 1

    init(fd: Int32, server: HTTPServer, peerAddress: [UInt8], peerPort: UInt16) {
        self.fd = fd
        self.server = server
        self.peerAddress = peerAddress
        self.peerPort = peerPort
        output = evbuffer_new()
        // Files added with evbuffer_add_file then leave by sendfile; without
        // the flag libevent maps each one (an mmap and a munmap per reply).
        evbuffer_set_flags(output, UInt64(EVBUFFER_FLAG_DRAINS_TO_FD))
        parser = RequestParser(limits: server.limits)
        capacity = Self.initialCapacity
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 16)
    }

    /// Starts reading (after the server holds a reference to it).
    func open() {
        let context = Unmanaged.passUnretained(self).toOpaque()
        readEvent = event_new(server.base, fd, Int16(EV_READ | EV_PERSIST), connectionReadCallback, context)
        armIdleTimeout()
    }

    deinit {
        buffer.deallocate()
        evbuffer_free(output)
    }

    // MARK: reading

    private func armIdleTimeout() {
        guard let readEvent else { return }
        var timeout = server.clientTimeout
        event_add(readEvent, &timeout)
    }

    fileprivate func readable(_ what: Int16) {
        if Int32(what) & EV_TIMEOUT != 0 {
            // Idle (or lingering) too long; a request with the host is not the client's fault.
            if lingering || !handedOver { close(reset: false) }
            return
        }
        if end == capacity { makeRoom() }
        let count = Glibc.read(fd, buffer + end, capacity - end)
        if count > 0 {
            if lingering { return }  // dropped
            end += count
            process()
        } else if count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            close(reset: false)
        }
    }

    /// Space at the end of the buffer: move the unparsed bytes to the front, or grow.
    private func makeRoom() {
        if start > 0 {
            if end > start { memmove(buffer, buffer + start, end - start) }
            end -= start
            start = 0
        }
        if end == capacity {
            let grown = UnsafeMutableRawPointer.allocate(byteCount: capacity * 2, alignment: 16)
            grown.copyMemory(from: buffer, byteCount: end)
            buffer.deallocate()
            buffer = grown
            capacity *= 2
        }
    }

    /// Parses what was read, as far as the one-request-at-a-time rule allows.
    private func process() {
        guard !processing else { return }
        processing = true
        defer { processing = false }
        let now = Double(tp_monotonic_nanos()) / 1e9  // one clock read for the bytes at hand
        while !closed && !handedOver {
            let (event, consumed) = parser.next(UnsafeRawBufferPointer(start: buffer + start, count: end - start), now: now)
            switch event {
            case .needMore:
                start += consumed
                if consumed == 0 {
                    if start == end { start = 0; end = 0 }
                    return
                }
            case .head(let head):
                let bytes = [UInt8](UnsafeRawBufferPointer(start: buffer + start, count: head.length))
                start += consumed
                let request = HTTPRequest(headBytes: bytes, head: head, connection: self)
                current = request
                if !server.allowedMethods.contains(head.method) {
                    parser.reject(.methodNotImplemented)
                    continue
                }
                if head.expectsContinue && head.hasBody && start == end {
                    writeBytes(ResponseHeadWriter.continueResponse)
                    flush()
                }
            case .body(let range):
                if let current { evbuffer_add(current.body, buffer + start + range.lowerBound, range.count) }
                start += consumed
            case .end:
                guard let request = current else { continue }
                handOver(request)
            case .reject(let rejection):
                start = end
                server.noteRejected(rejection)
                let refused = HTTPRequest(
                    headBytes: current?.headBytes ?? [], head: current?.head ?? Self.emptyHead, connection: self,
                    rejection: rejection)
                current = refused
                handOver(refused)
                return
            }
        }
    }

    private func handOver(_ request: HTTPRequest) {
        handedOver = true
        server.handler(request)
        // Pipelined bytes piling up while it is served: stop reading for now.
        if handedOver, !closed, end - start > Self.pauseAbove, let readEvent {
            event_del(readEvent)
        }
    }

    /// What a refused request without a head stands for.
    static let emptyHead = HTTPRequestHead(
        method: .other, methodToken: 0..<0, target: 0..<0, versionMinor: 1, fields: [], framing: .none,
        keepAlive: false, expectsContinue: false, length: 0)

    // MARK: writing

    func writeHead(of request: HTTPRequest, status: Int, reason: String?, contentLength: Int?, chunked: Bool) {
        request.serverClosing = server.closing
        request.withSerializedHead(
            status: status, reason: reason, contentLength: contentLength, chunked: chunked, date: server.dateHeader()
        ) { _ = evbuffer_add(output, $0.baseAddress, $0.count) }
    }

    func writeBody(_ body: OpaquePointer) {
        evbuffer_add_buffer(output, body)
    }

    func writeBytes(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { _ = evbuffer_add(output, $0.baseAddress, $0.count) }
    }

    func writeChunk(_ body: OpaquePointer, length: Int, chunked: Bool) {
        if chunked {
            ByteCursor.withBytes(capacity: 18, { ResponseHeadWriter.chunkHeader(size: length, into: &$0) }) {
                _ = evbuffer_add(output, $0.baseAddress, $0.count)
            }
        }
        evbuffer_add_buffer(output, body)
        if chunked { writeBytes(ResponseHeadWriter.crlf) }
    }

    /// Writes what the socket takes now; the rest waits for the write event.
    /// Called when a reply is all in the output; `drained` then finishes it.
    func flush() {
        guard !closed else { return }
        if let writeEvent, event_pending(writeEvent, Int16(EV_WRITE), nil) != 0 { return }  // waiting for room
        writeOutput()
    }

    private func writeOutput() {
        while evbuffer_get_length(output) > 0 {
            let written = evbuffer_write(output, fd)
            if written < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { break }
                close(reset: false)
                return
            }
            if written == 0 { break }
        }
        if evbuffer_get_length(output) > 0 {
            waitForRoom()
        } else {
            if let writeEvent { event_del(writeEvent) }
            drained()
        }
    }

    private func waitForRoom() {
        if writeEvent == nil {
            let context = Unmanaged.passUnretained(self).toOpaque()
            writeEvent = event_new(server.base, fd, Int16(EV_WRITE | EV_PERSIST), connectionWriteCallback, context)
        }
        guard let writeEvent, event_pending(writeEvent, Int16(EV_WRITE), nil) == 0 else { return }
        var timeout = server.clientTimeout
        event_add(writeEvent, &timeout)
    }

    fileprivate func writable(_ what: Int16) {
        if Int32(what) & EV_TIMEOUT != 0 {
            close(reset: false)  // the client stopped reading its reply
            return
        }
        writeOutput()
    }

    /// Everything written: a finished reply completes its request.
    private func drained() {
        guard let request = current, handedOver, request.replyState == .finished else { return }
        current = nil
        handedOver = false
        request.connection = nil
        let keep = request.keepsConnection
        server.onComplete(request)
        if closed { return }
        guard keep else {
            if request.rejection != nil { linger() } else { close(reset: false) }
            return
        }
        armIdleTimeout()  // also resumes reading when it was paused
        if start < end { process() }
    }

    /// After a refusal: FIN now, drop what still comes, close at EOF or after `lingerSeconds`.
    private func linger() {
        lingering = true
        shutdown(fd, Int32(SHUT_WR))
        guard let readEvent else { return close(reset: false) }
        var timeout = timeval(tv_sec: Self.lingerSeconds, tv_usec: 0)
        event_add(readEvent, &timeout)
    }

    // MARK: closing

    /// Closes the socket now (`reset`: with a zero linger, so the client sees
    /// a reset, not an orderly end). The request being served learns its client is gone.
    func close(reset: Bool) {
        guard !closed else { return }
        closed = true
        if let readEvent { event_free(readEvent) }
        if let writeEvent { event_free(writeEvent) }
        readEvent = nil
        writeEvent = nil
        if reset {
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        }
        Glibc.close(fd)
        evbuffer_drain(output, evbuffer_get_length(output))
        let request = current
        current = nil
        if let request, request.connection === self {
            request.connection = nil
            if handedOver { server.onClientGone(request) }
        }
        server.remove(self)
    }
}

private func connectionReadCallback(_ fd: Int32, _ what: Int16, _ context: UnsafeMutableRawPointer?) {
    guard let context else { return }
    let connection = Unmanaged<ClientConnection>.fromOpaque(context).takeUnretainedValue()
    withExtendedLifetime(connection) { connection.readable(what) }
}

private func connectionWriteCallback(_ fd: Int32, _ what: Int16, _ context: UnsafeMutableRawPointer?) {
    guard let context else { return }
    let connection = Unmanaged<ClientConnection>.fromOpaque(context).takeUnretainedValue()
    withExtendedLifetime(connection) { connection.writable(what) }
}
