/// Follows the bytes a client sends on one connection, request after request,
/// and says which may go to the HTTP parser (evhttp) and when a request must
/// be refused before the parser sees it. Pure: the front feeds it each read.
///
/// Why: evhttp 2.1 answers some bad requests itself — a head over its limit
/// (400, it cannot say 431), a body over its limit or a bad chunk size (413) —
/// without our `x-tidepool-error` code, and its timeouts are per read, so a
/// client trickling a byte at a time is never cut. The guard sees each byte
/// before evhttp does and decides first.
///
/// Request boundaries: the guard parses exactly as much as it needs to know
/// where each request ends, with evhttp's own rules — evhttp 2.1.12 reads a
/// body on every method it serves except HEAD (it would read a HEAD's body as
/// the next request, so a HEAD with a body is refused; TRACE and CONNECT are
/// refused likewise), `Content-Length` or `chunked` framing as
/// in `RequestFraming.bodyFraming`, lines ending at LF with an optional CR.
/// So on a keep-alive or pipelined connection it is always at the same
/// request as evhttp, or ahead of it (reads arrive before evhttp parses them).
///
/// Heads are held back: bytes of a head go to evhttp only once the whole head
/// has arrived and passed (`Verdict.deliver(upTo:)`), so evhttp never holds
/// part of a head the guard refuses, and a refused request is replaced whole.
/// Bodies pass as they arrive (evhttp must see the head at once to answer
/// `Expect: 100-continue`); each chunk-size line is checked before evhttp
/// reads it. Deadlines are checked as bytes arrive: a client that goes fully
/// silent is cut by the idle `clientTimeout` instead.
public struct RequestStreamGuard: Sendable {
    public struct Limits: Equatable, Sendable {
        /// Largest head (request line, headers and their line endings).
        public var maxHeadBytes: Int
        /// Longest request line counted as a too-long URI (414) rather than a too-large head.
        public var maxTargetBytes: Int
        /// Largest body, declared or the sum of its chunks.
        public var maxBodyBytes: Int64
        /// Seconds from a head's first byte to its end.
        public var headerTimeout: Double
        /// Seconds from the end of the head to the end of the body.
        public var bodyTimeout: Double

        public init(maxHeadBytes: Int, maxTargetBytes: Int, maxBodyBytes: Int64, headerTimeout: Double, bodyTimeout: Double) {
            self.maxHeadBytes = maxHeadBytes
            self.maxTargetBytes = maxTargetBytes
            self.maxBodyBytes = maxBodyBytes
            self.headerTimeout = headerTimeout
            self.bodyTimeout = bodyTimeout
        }
    }

    public enum Rejection: Equatable, Sendable {
        case headTooLarge
        case targetTooLong
        case bodyTooLarge
        case malformed(reason: String)
        case headTimeout
        case bodyTimeout

        public var code: ErrorCode {
            switch self {
            case .headTooLarge: .headerTooLarge
            case .targetTooLong: .urlTooLong
            case .bodyTooLarge: .payloadTooLarge
            case .malformed: .malformedRequest
            case .headTimeout, .bodyTimeout: .requestTimeout
            }
        }

        /// For the log.
        public var reason: String {
            switch self {
            case .headTooLarge: "request head over maxHeaderBytes"
            case .targetTooLong: "request line over maxURIBytes"
            case .bodyTooLarge: "request body over maxRequestBodyBytes"
            case .malformed(let reason): reason
            case .headTimeout: "request head not received within headerTimeout"
            case .bodyTimeout: "request body not received within bodyTimeout"
            }
        }
    }

    public enum Verdict: Equatable, Sendable {
        /// Every byte before this stream offset may go to the parser; the ones
        /// from it on are the start of a head still incomplete, held back.
        case deliver(upTo: Int64)
        /// Refuse the request that starts at stream offset `requestStart`
        /// (every earlier byte belongs to requests that passed), then close.
        case reject(Rejection, requestStart: Int64)
    }

    enum Phase: Equatable, Sendable {
        case head
        case lengthBody
        case chunkSize
        case chunkData
        case chunkDataEnd
        case trailer
        case rejected(Rejection)
    }

    public let limits: Limits
    /// Bytes fed so far: the stream offset of the next byte.
    public private(set) var received: Int64 = 0
    var phase: Phase = .head
    /// The current line (head, chunk-size or trailer line) so far, without its LF.
    var line: [UInt8] = []
    /// Stream offset of the current request's first byte.
    var requestStart: Int64 = 0
    /// Bytes of the current head (or trailer section) so far.
    var headBytes = 0
    var sawRequestLine = false
    var mayHaveBody = false
    var method: [UInt8] = []
    /// Content-Length and Transfer-Encoding fields of the current head.
    var framingHeaders: [(name: [UInt8], value: [UInt8])] = []
    var headStartedAt: Double?
    var bodyStartedAt = 0.0
    /// Bytes left in the current Content-Length body or chunk.
    var remaining: Int64 = 0
    /// Sum of the chunk sizes so far.
    var chunkedTotal: Int64 = 0

    /// Stream offset of the first byte of the read being fed, and its time.
    var origin: Int64 = 0
    var clock = 0.0

    /// Longest chunk-size line accepted (a size and a short extension).
    static let maxChunkLineBytes = 1024

    public init(limits: Limits) {
        self.limits = limits
    }

    /// The bytes just read, in order; `now` in seconds on any monotonic clock.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer, now: Double) -> Verdict {
        if case .rejected(let rejection) = phase { return .reject(rejection, requestStart: requestStart) }
        origin = received
        clock = now
        var index = 0
        while index < bytes.count {
            if let rejection = step(bytes, &index) {
                received = origin + Int64(index)
                phase = .rejected(rejection)
                return .reject(rejection, requestStart: requestStart)
            }
        }
        received = origin + Int64(bytes.count)
        switch phase {
        case .head:
            if let started = headStartedAt, now - started > limits.headerTimeout { return reject(.headTimeout) }
            return .deliver(upTo: requestStart)
        case .lengthBody, .chunkSize, .chunkData, .chunkDataEnd, .trailer:
            if now - bodyStartedAt > limits.bodyTimeout { return reject(.bodyTimeout) }
            return .deliver(upTo: received)
        case .rejected(let rejection):
            return .reject(rejection, requestStart: requestStart)
        }
    }

    public mutating func feed(_ bytes: [UInt8], now: Double) -> Verdict {
        bytes.withUnsafeBytes { feed($0, now: now) }
    }

    private mutating func reject(_ rejection: Rejection) -> Verdict {
        phase = .rejected(rejection)
        return .reject(rejection, requestStart: requestStart)
    }

    /// Consumes some bytes from `index` in the current phase; a rejection stops the stream.
    private mutating func step(_ bytes: UnsafeRawBufferPointer, _ index: inout Int) -> Rejection? {
        switch phase {
        case .head:
            return headStep(bytes, &index)
        case .lengthBody, .chunkData:
            let take = Int(min(remaining, Int64(bytes.count - index)))
            index += take
            remaining -= Int64(take)
            if remaining == 0 {
                if phase == .lengthBody { startHead(at: origin + Int64(index)) } else { phase = .chunkDataEnd }
            }
            return nil
        case .chunkDataEnd:
            // Exactly CRLF (or a bare LF) must follow the chunk's data.
            let byte = bytes[index]
            index += 1
            if byte == 0x0a {
                line.removeAll(keepingCapacity: true)
                phase = .chunkSize
                return nil
            }
            if byte == 0x0d && line.isEmpty {
                line.append(byte)
                return nil
            }
            return .malformed(reason: "chunk data longer than its chunk size")
        case .chunkSize, .trailer:
            guard let end = readLine(bytes, &index) else {
                if phase == .chunkSize && line.count > Self.maxChunkLineBytes {
                    return .malformed(reason: "chunk-size line too long")
                }
                return phase == .trailer && headBytes > limits.maxHeadBytes ? .headTooLarge : nil
            }
            return phase == .chunkSize ? chunkSizeLine() : trailerLine(endingAt: origin + Int64(end))
        case .rejected(let rejection):
            return rejection
        }
    }

    private mutating func headStep(_ bytes: UnsafeRawBufferPointer, _ index: inout Int) -> Rejection? {
        if headStartedAt == nil, bytes[index...].contains(where: { $0 != 0x0d && $0 != 0x0a }) {
            headStartedAt = clock
        }
        let start = index
        let complete = readLine(bytes, &index)
        headBytes += index - start
        if headBytes > limits.maxHeadBytes {
            let inRequestLine = !sawRequestLine && (complete == nil || !line.isEmpty)
            return inRequestLine && line.count > limits.maxTargetBytes ? .targetTooLong : .headTooLarge
        }
        guard let end = complete else { return nil }
        return headLine(endingAt: origin + Int64(end))
    }

    /// Appends bytes up to the next LF to `line`; returns the index past the
    /// LF (and leaves `line` without it and without a CR before it), or nil
    /// when the line goes on in a later read.
    private mutating func readLine(_ bytes: UnsafeRawBufferPointer, _ index: inout Int) -> Int? {
        let rest = bytes[index...]
        guard let newline = rest.firstIndex(of: 0x0a) else {
            line.append(contentsOf: rest)
            if phase == .trailer { headBytes += rest.count }
            index = bytes.count
            return nil
        }
        line.append(contentsOf: bytes[index..<newline])
        if phase == .trailer { headBytes += newline + 1 - index }
        if line.last == 0x0d { line.removeLast() }
        index = newline + 1
        return index
    }

    /// A complete head line is in `line`; `next` is the stream offset after it.
    private mutating func headLine(endingAt next: Int64) -> Rejection? {
        defer { line.removeAll(keepingCapacity: true) }
        if !sawRequestLine {
            if line.isEmpty { return nil }  // empty lines before a request are skipped, as evhttp does
            sawRequestLine = true
            method = Array(line.prefix { $0 != 0x20 })
            mayHaveBody = method != Self.head && method != Self.trace && method != Self.connect
            return nil
        }
        if line.isEmpty { return headEnded(at: next) }
        if line[0] == 0x20 || line[0] == 0x09 {
            return .malformed(reason: "obsolete line folding in a header")
        }
        if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            let name = line[..<colon]
            if RequestFraming.equalsIgnoringCase(name, RequestFraming.contentLength)
                || RequestFraming.equalsIgnoringCase(name, RequestFraming.transferEncoding) {
                framingHeaders.append((Array(name), Array(line[(colon + 1)...])))
            }
        }
        return nil
    }

    private mutating func headEnded(at next: Int64) -> Rejection? {
        let framing = RequestFraming.bodyFraming(headers: framingHeaders)
        switch framing {
        case .malformed(let reason):
            return .malformed(reason: reason)
        case .length(let length) where length > 0 && !mayHaveBody:
            return .malformed(reason: "a \(String(decoding: method, as: UTF8.self)) request with a body")
        case .chunked where !mayHaveBody:
            return .malformed(reason: "a \(String(decoding: method, as: UTF8.self)) request with a body")
        case .length(let length) where length > limits.maxBodyBytes:
            return .bodyTooLarge
        case .length(let length) where length > 0:
            phase = .lengthBody
            remaining = length
            bodyStartedAt = clock
        case .chunked:
            phase = .chunkSize
            chunkedTotal = 0
            bodyStartedAt = clock
        case .none, .length:
            startHead(at: next)
            return nil
        }
        return nil
    }

    private mutating func chunkSizeLine() -> Rejection? {
        defer { line.removeAll(keepingCapacity: true) }
        switch ChunkSizeLine.parse(line) {
        case .invalid(let reason):
            return .malformed(reason: reason)
        case .size(let size):
            if size > limits.maxBodyBytes - chunkedTotal { return .bodyTooLarge }
            chunkedTotal += size
            if size == 0 {
                phase = .trailer
                headBytes = 0
            } else {
                phase = .chunkData
                remaining = size
            }
            return nil
        }
    }

    private mutating func trailerLine(endingAt next: Int64) -> Rejection? {
        defer { line.removeAll(keepingCapacity: true) }
        if headBytes > limits.maxHeadBytes { return .headTooLarge }
        if line.isEmpty {
            startHead(at: next)
            return nil
        }
        if line[0] == 0x20 || line[0] == 0x09 { return .malformed(reason: "obsolete line folding in a trailer") }
        return nil
    }

    private mutating func startHead(at offset: Int64) {
        phase = .head
        requestStart = offset
        headBytes = 0
        sawRequestLine = false
        mayHaveBody = false
        framingHeaders.removeAll(keepingCapacity: true)
        headStartedAt = nil
        line.removeAll(keepingCapacity: true)
    }

    /// Methods whose body evhttp does not read (HEAD) or that it refuses anyway.
    static let head = Array("HEAD".utf8)
    static let trace = Array("TRACE".utf8)
    static let connect = Array("CONNECT".utf8)
}
