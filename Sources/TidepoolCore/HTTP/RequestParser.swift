/// The incremental HTTP/1.1 request parser of one client connection. Pure:
/// the front hands it the bytes it has read and not yet consumed, and it
/// answers one event at a time with how many of them it consumed.
///
/// - A head is parsed only once it is complete (its blank line arrived), in
///   one pass over the read buffer (`HTTPRequestHead.parse`); bytes already
///   searched for its end are not searched again when it comes in pieces.
/// - A body is handed over as ranges of the buffer as it arrives: a
///   `Content-Length` body as is, a chunked one decoded (size lines checked
///   one by one with `ChunkSizeLine`, trailers skipped).
/// - Limits and deadlines are the front's (`Limits`): a head over
///   `maxHeadBytes` (431, or 414 while still in an overlong request line), a
///   body over `maxBodyBytes` (413, declared or the sum of its chunks), a head
///   or body not complete within its deadline (408, checked as bytes arrive:
///   a client that goes fully silent is cut by the idle `clientTimeout`).
///   Any rejection ends the stream: the front answers it and closes.
///
/// Empty lines before a request line are skipped (RFC 9112 §2.2).
public struct RequestParser: Sendable {
    public struct Limits: Equatable, Sendable {
        /// Largest head (request line, headers and their line endings).
        public var maxHeadBytes: Int
        /// Longest request target (414 beyond it).
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

    public enum Rejection: Error, Equatable, Sendable {
        case headTooLarge
        case targetTooLong
        case bodyTooLarge
        case malformed(reason: String)
        case headTimeout
        case bodyTimeout
        /// An `Expect` other than `100-continue` (417).
        case expectationFailed
        /// A method the server does not serve (501, RFC 9110 §9.1); decided by
        /// the server after the head (`reject(_:)`), not by the parser.
        case methodNotImplemented
        /// A request line whose HTTP major version is not 1 (505, RFC 9110 §15.6.6).
        case versionNotSupported

        /// The code the answer carries (nil: a plain 417).
        public var code: ErrorCode? {
            switch self {
            case .headTooLarge: .headerTooLarge
            case .targetTooLong: .urlTooLong
            case .bodyTooLarge: .payloadTooLarge
            case .malformed: .malformedRequest
            case .headTimeout, .bodyTimeout: .requestTimeout
            case .expectationFailed, .methodNotImplemented, .versionNotSupported: nil
            }
        }

        public var status: Int {
            switch self {
            case .expectationFailed: 417
            case .methodNotImplemented: 501
            case .versionNotSupported: 505
            default: code?.status ?? 400
            }
        }

        /// For the log.
        public var reason: String {
            switch self {
            case .headTooLarge: "request head over maxHeaderBytes"
            case .targetTooLong: "request target over maxURIBytes"
            case .bodyTooLarge: "request body over maxRequestBodyBytes"
            case .malformed(let reason): reason
            case .headTimeout: "request head not received within headerTimeout"
            case .bodyTimeout: "request body not received within bodyTimeout"
            case .expectationFailed: "an Expect other than 100-continue"
            case .methodNotImplemented: "a method the server does not serve"
            case .versionNotSupported: "an HTTP version other than 1.x"
            }
        }
    }

    public enum Event: Sendable {
        /// Nothing more to say until more bytes arrive (`consumed` may still
        /// be non-zero: skipped empty lines, chunk-size lines).
        case needMore
        /// A request head: the first `head.length` consumed bytes.
        case head(HTTPRequestHead)
        /// Body bytes: this range of the bytes passed in (consumed with them).
        case body(Range<Int>)
        /// The request (head and body) is complete.
        case end
        case reject(Rejection)
    }

    enum State: Equatable, Sendable {
        case head
        case lengthBody
        case chunkSize
        case chunkData
        case chunkDataEnd
        case trailer
        case finished
        case rejected(Rejection)
    }

    public let limits: Limits
    var state: State = .head
    /// Bytes of the current (incomplete) head already searched for its end.
    var scanned = 0
    var headStartedAt: Double?
    var bodyStartedAt = 0.0
    /// Bytes left in the current Content-Length body or chunk.
    var remaining: Int64 = 0
    /// Sum of the chunk sizes so far.
    var chunkedTotal: Int64 = 0
    var trailerBytes = 0

    /// Longest chunk-size line accepted (a size and a short extension).
    static let maxChunkLineBytes = 1024

    public init(limits: Limits) {
        self.limits = limits
    }

    /// Reading a body (its head was handed over).
    public var isInBody: Bool {
        switch state {
        case .lengthBody, .chunkSize, .chunkData, .chunkDataEnd, .trailer: true
        default: false
        }
    }

    /// The next event from `bytes` (read, not yet consumed; they start where
    /// the last call's consumed bytes ended). `now`: seconds on a monotonic clock.
    public mutating func next(_ bytes: UnsafeRawBufferPointer, now: Double) -> (event: Event, consumed: Int) {
        switch state {
        case .rejected(let rejection):
            return (.reject(rejection), 0)
        case .finished:
            reset()
            return (.end, 0)
        case .head:
            return nextHead(bytes, now: now)
        case .lengthBody, .chunkData:
            let take = Int(min(remaining, Int64(bytes.count)))
            if take == 0 { return needMore(0, now: now) }
            remaining -= Int64(take)
            if remaining == 0 { state = state == .lengthBody ? .finished : .chunkDataEnd }
            return (.body(0..<take), take)
        case .chunkDataEnd:
            // Exactly CRLF (or a bare LF) must follow a chunk's data.
            guard let first = bytes.first else { return needMore(0, now: now) }
            if first == 0x0a {
                state = .chunkSize
                return (.needMore, 1)
            }
            if first == 0x0d {
                guard bytes.count >= 2 else { return needMore(0, now: now) }
                if bytes[1] == 0x0a {
                    state = .chunkSize
                    return (.needMore, 2)
                }
            }
            return reject(.malformed(reason: "chunk data longer than its chunk size"), consumed: 0)
        case .chunkSize:
            guard let newline = bytes.firstIndex(of: 0x0a) else {
                if bytes.count > Self.maxChunkLineBytes {
                    return reject(.malformed(reason: "chunk-size line too long"), consumed: 0)
                }
                return needMore(0, now: now)
            }
            let end = newline > 0 && bytes[newline - 1] == 0x0d ? newline - 1 : newline
            switch ChunkSizeLine.parse(bytes[0..<end]) {
            case .invalid(let reason):
                return reject(.malformed(reason: reason), consumed: 0)
            case .size(let size):
                if size > limits.maxBodyBytes - chunkedTotal { return reject(.bodyTooLarge, consumed: 0) }
                chunkedTotal += size
                if size == 0 {
                    state = .trailer
                    trailerBytes = 0
                } else {
                    state = .chunkData
                    remaining = size
                }
                return (.needMore, newline + 1)
            }
        case .trailer:
            guard let newline = bytes.firstIndex(of: 0x0a) else {
                if trailerBytes + bytes.count > limits.maxHeadBytes { return reject(.headTooLarge, consumed: 0) }
                return needMore(0, now: now)
            }
            trailerBytes += newline + 1
            if trailerBytes > limits.maxHeadBytes { return reject(.headTooLarge, consumed: 0) }
            let empty = newline == 0 || (newline == 1 && bytes[0] == 0x0d)
            if empty {
                state = .finished
            } else if bytes[0] == 0x20 || bytes[0] == 0x09 {
                return reject(.malformed(reason: "obsolete line folding in a trailer"), consumed: 0)
            }
            return (.needMore, newline + 1)
        }
    }

    private mutating func nextHead(_ bytes: UnsafeRawBufferPointer, now: Double) -> (event: Event, consumed: Int) {
        if headStartedAt == nil {
            // Empty lines before a request line are skipped.
            var skip = 0
            while skip < bytes.count, bytes[skip] == 0x0d || bytes[skip] == 0x0a { skip += 1 }
            if skip > 0 { return (.needMore, skip) }
            if bytes.isEmpty { return (.needMore, 0) }
            headStartedAt = now
        }
        // The blank line: an LF followed by LF or CR LF.
        var i = scanned
        var end: Int?
        while i < bytes.count {
            guard bytes[i] == 0x0a else {
                i += 1
                continue
            }
            if i + 1 >= bytes.count { break }
            if bytes[i + 1] == 0x0a {
                end = i + 2
                break
            }
            if bytes[i + 1] == 0x0d {
                if i + 2 >= bytes.count { break }
                if bytes[i + 2] == 0x0a {
                    end = i + 3
                    break
                }
            }
            i += 1
        }
        guard let end else {
            scanned = i
            if bytes.count > limits.maxHeadBytes { return reject(oversizedHead(bytes), consumed: 0) }
            return needMore(0, now: now)
        }
        if end > limits.maxHeadBytes { return reject(oversizedHead(bytes), consumed: 0) }
        let head = UnsafeRawBufferPointer(rebasing: bytes[0..<end])
        switch HTTPRequestHead.parse(head, maxTargetBytes: limits.maxTargetBytes, maxBodyBytes: limits.maxBodyBytes) {
        case .failure(let rejection):
            return reject(rejection, consumed: 0)
        case .success(let parsed):
            switch parsed.framing {
            case .length(let n) where n > 0:
                state = .lengthBody
                remaining = n
            case .chunked:
                state = .chunkSize
                chunkedTotal = 0
            default:
                state = .finished
            }
            bodyStartedAt = now
            scanned = 0
            return (.head(parsed), end)
        }
    }

    /// 414 while the request line alone is over the target limit, else 431.
    private func oversizedHead(_ bytes: UnsafeRawBufferPointer) -> Rejection {
        let lineLength = bytes.firstIndex(of: 0x0a) ?? bytes.count
        return lineLength > limits.maxTargetBytes ? .targetTooLong : .headTooLarge
    }

    /// Incomplete: the deadline of the head or body being read is checked now.
    private mutating func needMore(_ consumed: Int, now: Double) -> (event: Event, consumed: Int) {
        if state == .head, let started = headStartedAt, now - started > limits.headerTimeout {
            return reject(.headTimeout, consumed: consumed)
        }
        if isInBody, now - bodyStartedAt > limits.bodyTimeout {
            return reject(.bodyTimeout, consumed: consumed)
        }
        return (.needMore, consumed)
    }

    /// Ends the stream with `rejection` decided outside the parser.
    public mutating func reject(_ rejection: Rejection) {
        state = .rejected(rejection)
    }

    private mutating func reject(_ rejection: Rejection, consumed: Int) -> (event: Event, consumed: Int) {
        state = .rejected(rejection)
        return (.reject(rejection), consumed)
    }

    private mutating func reset() {
        state = .head
        scanned = 0
        headStartedAt = nil
        remaining = 0
        chunkedTotal = 0
        trailerBytes = 0
    }
}
