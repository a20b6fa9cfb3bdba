import CEvent
import TidepoolCore

/// One client request and its reply, from its parsed head until the reply is
/// written (or the client is gone). Replaces evhttp's `evhttp_request`.
///
/// Input: the head's bytes (copied once out of the connection's read buffer,
/// read in place through `head`'s offsets) and the body (decoded, in an
/// evbuffer the dispatch moves into the instance channel without copying).
///
/// Output: headers added with `addHeader`, then exactly one terminal call:
/// `sendReply` (whole), `startReply` … `sendChunk` … `endReply` (streamed), or
/// `abort` (reset). After the client is gone (`isClientGone`), every reply
/// call only marks the request finished. The server reports a reply fully
/// written through `HTTPServer.onComplete` (never for one whose client left).
final class HTTPRequest {
    let headBytes: [UInt8]
    let head: HTTPRequestHead
    /// The connection while the client is there; cleared when it closes or
    /// once the reply is written (breaking the reference cycle).
    var connection: ClientConnection?
    /// Set instead of a head when the request was refused while being read
    /// (the front answers it with this and closes).
    let rejection: RequestParser.Rejection?
    private var bodyBuffer: OpaquePointer?

    /// Response header lines (`Name: value\r\n`) in order, as they go on the
    /// wire: one array, copied into the head in one go; the serializer adds
    /// the framing ones.
    private var outputHeaderLines: [UInt8] = []
    private(set) var outputHasContentLength = false
    /// The app (or a vercel.json rule) set its own Date: the front adds none.
    private(set) var outputHasDate = false
    private(set) var outputAsksClose = false
    /// The reply's status once started (0 before), and its `x-tidepool-error` code.
    private(set) var status = 0
    var errorCode: ErrorCode?
    /// Observability: set on arrival, ended on completion (Metrics/RequestTraces.swift).
    var trace: RequestTrace?
    /// The host's id for it while it is with the pool (RequestForwarding.swift).
    var pendingID: UInt32?

    enum ReplyState { case none, streaming, finished }
    private(set) var replyState = ReplyState.none
    private var chunked = false
    /// The response may carry a body (not for HEAD, 1xx, 204, 304).
    private var replyHasBody = true

    init(headBytes: [UInt8], head: HTTPRequestHead, connection: ClientConnection?, rejection: RequestParser.Rejection? = nil) {
        self.headBytes = headBytes
        self.head = head
        self.connection = connection
        self.rejection = rejection
    }

    deinit {
        if let bodyBuffer { evbuffer_free(bodyBuffer) }
    }

    // MARK: input

    var method: HTTPMethod { head.method }
    var versionMinor: UInt8 { head.versionMinor }
    var target: ArraySlice<UInt8> { headBytes[head.target] }

    /// The method token as sent (known methods without an allocation).
    var methodText: String {
        if head.method != .other { return head.method.name }
        return head.methodToken.isEmpty ? "-" : String(decoding: headBytes[head.methodToken], as: UTF8.self)
    }

    /// Calls `body` with each header's name and value, valid during the call.
    func forEachHeader(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        headBytes.withUnsafeBytes { bytes in
            for field in head.fields {
                body(UnsafeRawBufferPointer(rebasing: bytes[field.name]), UnsafeRawBufferPointer(rebasing: bytes[field.value]))
            }
        }
    }

    /// The first value of the header `lowercaseName`.
    func header(_ lowercaseName: StaticString) -> ArraySlice<UInt8>? {
        headBytes.withUnsafeBytes { bytes in
            for field in head.fields where ASCIICase.equals(UnsafeRawBufferPointer(rebasing: bytes[field.name]), lowercaseName) {
                return headBytes[field.value]
            }
            return nil
        }
    }

    func headerText(_ lowercaseName: StaticString) -> String? {
        header(lowercaseName).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The decoded body (an evbuffer), made on first use.
    var body: OpaquePointer {
        if let bodyBuffer { return bodyBuffer }
        let buffer = evbuffer_new()!
        bodyBuffer = buffer
        return buffer
    }

    var bodyLength: Int { bodyBuffer.map { evbuffer_get_length($0) } ?? 0 }

    /// The client closed its connection (or the request was refused and answered).
    var isClientGone: Bool { connection == nil }

    // MARK: output

    func addHeader(_ name: String, _ value: String) {
        var name = name, value = value
        name.withUTF8 { n in value.withUTF8 { addHeader(name: UnsafeRawBufferPointer(n), value: UnsafeRawBufferPointer($0)) } }
    }

    /// Adds a header unless its name is empty or holds a colon, or either
    /// part holds NUL, CR or LF: no header line can end early or split in two.
    func addHeader(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        guard !name.isEmpty, !name.contains(UInt8(ascii: ":")), ResponseHeadWriter.isSafe(name),
              ResponseHeadWriter.isSafe(value) else { return }
        note(name, value)
        if outputHeaderLines.isEmpty { outputHeaderLines.reserveCapacity(256) }  // one allocation for the usual few
        ResponseHeadWriter.header(name, value, into: &outputHeaderLines)
    }

    /// Removes every output header named `name` (ASCII case-insensitive), and
    /// what it said about the reply's framing (the flags are read from the rest).
    func removeHeaders(named name: [UInt8]) {
        let lines = outputHeaderLines
        outputHeaderLines.removeAll(keepingCapacity: true)
        outputHasContentLength = false
        outputHasDate = false
        outputAsksClose = false
        let wanted = name.map(ASCIICase.lower)
        wanted.withUnsafeBytes { wanted in
            Self.forEachLine(lines) { line, name, value in
                guard !ASCIICase.equals(name, wanted) else { return }
                note(name, value)
                outputHeaderLines.append(contentsOf: line)
            }
        }
    }

    /// Each `Name: value\r\n` line of `lines` (as `addHeader` wrote them), its name and its value.
    private static func forEachLine(
        _ lines: [UInt8], _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void
    ) {
        lines.withUnsafeBytes { raw in
            var start = 0
            while start < raw.count {
                // A name holds no colon (it is a token) and a value no CR or LF (`isSafe`).
                let colon = raw[start...].firstIndex(of: UInt8(ascii: ":"))!
                let end = raw[colon...].firstIndex(of: 0x0d)!
                body(UnsafeRawBufferPointer(rebasing: raw[start..<(end + 2)]), UnsafeRawBufferPointer(rebasing: raw[start..<colon]),
                     UnsafeRawBufferPointer(rebasing: raw[(colon + 2)..<end]))
                start = end + 2
            }
        }
    }

    /// Sets the flags an output header implies (Content-Length, Date, `Connection: close`).
    private func note(_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        if ASCIICase.equals(name, "content-length") { outputHasContentLength = true }
        if ASCIICase.equals(name, "date") { outputHasDate = true }
        if ASCIICase.equals(name, "connection") {
            HTTPRequestHead.forEachToken(value) { if ASCIICase.equals($0, "close") { outputAsksClose = true } }
        }
    }

    var hasOutputHeaders: Bool { !outputHeaderLines.isEmpty }

    /// The whole reply; `body`'s bytes are moved out (nil: empty).
    func sendReply(status: Int, reason: String? = nil, body: OpaquePointer? = nil) {
        guard replyState == .none else { return }
        self.status = status
        replyState = .finished
        guard let connection else { return }
        replyHasBody = Self.mayHaveBody(method: head.method, status: status)
        let length = replyHasBody ? (body.map { evbuffer_get_length($0) } ?? 0) : 0
        connection.writeHead(of: self, status: status, reason: reason,
                             contentLength: replyHasBody && !outputHasContentLength ? length : nil, chunked: false)
        if let body {
            if replyHasBody { connection.writeBody(body) } else { evbuffer_drain(body, evbuffer_get_length(body)) }
        }
        connection.flush()  // the whole reply is in the output
    }

    /// Starts a streamed reply: chunked on HTTP/1.1 without a declared length;
    /// on HTTP/1.0 without one the body ends with the connection.
    func startReply(status: Int, reason: String? = nil) {
        guard replyState == .none else { return }
        self.status = status
        replyState = .streaming
        guard let connection else { return }
        replyHasBody = Self.mayHaveBody(method: head.method, status: status)
        chunked = replyHasBody && !outputHasContentLength && head.versionMinor >= 1
        delimitedByClose = replyHasBody && !chunked && !outputHasContentLength
        connection.writeHead(of: self, status: status, reason: reason, contentLength: nil, chunked: chunked)
        connection.flush()
    }

    /// One piece of a streamed body (moved out of `buffer`).
    func sendChunk(_ buffer: OpaquePointer) {
        let length = evbuffer_get_length(buffer)
        guard replyState == .streaming, let connection, replyHasBody, length > 0 else {
            evbuffer_drain(buffer, length)
            return
        }
        connection.writeChunk(buffer, length: length, chunked: chunked)
        connection.flush()
    }

    func endReply() {
        guard replyState == .streaming else { return }
        replyState = .finished
        guard let connection else { return }
        if chunked { connection.writeBytes(ResponseHeadWriter.lastChunk) }
        connection.flush()  // the whole reply is in the output
    }

    /// Ends the connection with a reset: a cut-short body never passes for a whole one.
    func abort() {
        replyState = .finished
        guard let connection else { return }
        self.connection = nil
        connection.close(reset: true)
    }

    /// Whether the connection stays open after this reply.
    var keepsConnection: Bool {
        head.keepAlive && !outputAsksClose && rejection == nil && !delimitedByClose && !serverClosing
    }

    /// The server stopped listening before the head was written: this reply closes.
    var serverClosing = false

    /// A streamed body with neither a length nor chunks (HTTP/1.0): it ends with the connection.
    private var delimitedByClose = false

    static func mayHaveBody(method: HTTPMethod, status: Int) -> Bool {
        method != .head && status != 204 && status != 304 && !(100..<200).contains(status)
    }

    /// Writes this request's head: status line, output headers, framing, Connection.
    /// Passes `body` the head (in memory valid during the call).
    func withSerializedHead<R>(
        status: Int, reason: String?, contentLength: Int?, chunked: Bool, date: [UInt8],
        _ body: (UnsafeRawBufferPointer) -> R
    ) -> R {
        // The framing lines below and Content-Length's digits fit in 128 bytes.
        let capacity = ResponseHeadWriter.statusLineBytes(reason: reason) + outputHeaderLines.count + date.count + 128
        return ByteCursor.withBytes(capacity: capacity, { out in
            ResponseHeadWriter.statusLine(versionMinor: head.versionMinor, status: status, reason: reason, into: &out)
            out.put(outputHeaderLines)
            if !outputHasDate { out.put(date) }
            if let contentLength { ResponseHeadWriter.header("Content-Length", decimal: contentLength, into: &out) }
            if chunked { out.put("Transfer-Encoding: chunked\r\n") }
            if !keepsConnection {
                if !outputAsksClose { out.put("Connection: close\r\n") }
            } else if head.versionMinor == 0 {
                out.put("Connection: keep-alive\r\n")
            }
            ResponseHeadWriter.end(into: &out)
        }, done: body)
    }
}
