/// One parsed HTTP/1.x request head: offsets into the head's bytes (request
/// line, header lines, blank line), found in one pass. No String and no array
/// per header: the front copies the head's bytes once and reads names and
/// values in place.
public struct HTTPRequestHead: Sendable {
    /// A header line's name and value (value without surrounding whitespace).
    public struct Field: Sendable, Equatable {
        public var name: Range<Int>
        public var value: Range<Int>
    }

    public var method: HTTPMethod
    public var methodToken: Range<Int>
    /// The raw request-target, as sent.
    public var target: Range<Int>
    /// 0 for HTTP/1.0, 1 for HTTP/1.1 (the only versions served).
    public var versionMinor: UInt8
    public var fields: [Field]
    public var framing: RequestFraming.BodyFraming
    /// Whether the connection may carry another request after this one's reply
    /// (HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with `Connection: keep-alive`).
    public var keepAlive: Bool
    /// HTTP/1.1 `Expect: 100-continue`.
    public var expectsContinue: Bool
    /// Bytes of the head, its blank line included.
    public var length: Int

    public init(
        method: HTTPMethod, methodToken: Range<Int>, target: Range<Int>, versionMinor: UInt8, fields: [Field],
        framing: RequestFraming.BodyFraming, keepAlive: Bool, expectsContinue: Bool, length: Int
    ) {
        self.method = method
        self.methodToken = methodToken
        self.target = target
        self.versionMinor = versionMinor
        self.fields = fields
        self.framing = framing
        self.keepAlive = keepAlive
        self.expectsContinue = expectsContinue
        self.length = length
    }

    /// Whether a body follows the head.
    public var hasBody: Bool {
        switch framing {
        case .chunked: true
        case .length(let n): n > 0
        case .none, .malformed: false
        }
    }

    /// Parses a complete head (`bytes` ends with its blank line). Checks what a
    /// hop could otherwise read differently (RFC 9112): exactly
    /// `method SP target SP HTTP/1.x`, token header names, no obsolete line
    /// folding, no control byte in a value or the target, one unambiguous
    /// framing (`RequestFraming.bodyFraming`), no body on HEAD/TRACE/CONNECT.
    /// Lines end at LF with an optional CR before it.
    public static func parse(
        _ bytes: UnsafeRawBufferPointer, maxTargetBytes: Int, maxBodyBytes: Int64
    ) -> Result<HTTPRequestHead, RequestParser.Rejection> {
        let count = bytes.count
        var lineStart = 0
        /// The next line [start, end) without its line ending; `lineStart` moves past it.
        func nextLine() -> Range<Int>? {
            guard let i = firstIndex(bytes, of: 0x0a, in: lineStart..<count) else { return nil }
            var end = i
            if end > lineStart, bytes[end - 1] == 0x0d { end -= 1 }
            let line = lineStart..<end
            lineStart = i + 1
            return line
        }
        guard let requestLine = nextLine() else { return .failure(.malformed(reason: "no request line")) }
        // Request line: exactly three parts separated by single spaces.
        guard let firstSpace = firstIndex(bytes, of: 0x20, in: requestLine) else {
            return .failure(.malformed(reason: "malformed request line"))
        }
        let methodToken = requestLine.lowerBound..<firstSpace
        let afterMethod = firstSpace + 1
        let lastSpace = lastIndex(bytes, of: 0x20, in: afterMethod..<requestLine.upperBound)
        guard !methodToken.isEmpty, methodToken.allSatisfy({ RequestFraming.isTokenByte(bytes[$0]) }), let lastSpace
        else { return .failure(.malformed(reason: "malformed request line")) }
        let target = afterMethod..<lastSpace
        let version = (lastSpace + 1)..<requestLine.upperBound
        if target.count > maxTargetBytes { return .failure(.targetTooLong) }
        let minor: UInt8
        switch Self.version(bytes, version) {
        case .minor(let value): minor = value
        case .otherMajor: return .failure(.versionNotSupported)
        case .malformed: return .failure(.malformed(reason: "malformed HTTP version"))
        }
        guard !target.isEmpty, !target.contains(where: { bytes[$0] <= 0x20 || bytes[$0] == 0x7f }) else {
            return .failure(.malformed(reason: "space or control character in the request target"))
        }
        guard isValidTarget(UnsafeRawBufferPointer(rebasing: bytes[target])) else {
            return .failure(.malformed(reason: "invalid request target"))
        }
        let method = HTTPMethod.named(UnsafeRawBufferPointer(rebasing: bytes[methodToken]))

        var fields: [Field] = []
        fields.reserveCapacity(16)  // one allocation for a usual head
        var framingHeaders: [(RequestFraming.FramingHeader, UnsafeRawBufferPointer)] = []
        var close = false, keepAliveToken = false, expectsContinue = false, otherExpectation = false
        while true {
            guard let line = nextLine() else { return .failure(.malformed(reason: "head without its blank line")) }
            if line.isEmpty { break }
            if bytes[line.lowerBound] == 0x20 || bytes[line.lowerBound] == 0x09 {
                return .failure(.malformed(reason: "obsolete line folding in a header"))
            }
            guard let colon = firstIndex(bytes, of: UInt8(ascii: ":"), in: line) else {
                return .failure(.malformed(reason: "header line without a colon"))
            }
            let name = line.lowerBound..<colon
            guard !name.isEmpty, name.allSatisfy({ RequestFraming.isTokenByte(bytes[$0]) }) else {
                return .failure(.malformed(reason: "invalid header name"))
            }
            var valueStart = colon + 1, valueEnd = line.upperBound
            while valueStart < valueEnd, bytes[valueStart] == 0x20 || bytes[valueStart] == 0x09 { valueStart += 1 }
            while valueEnd > valueStart, bytes[valueEnd - 1] == 0x20 || bytes[valueEnd - 1] == 0x09 { valueEnd -= 1 }
            let value = valueStart..<valueEnd
            for i in value where (bytes[i] < 0x20 && bytes[i] != 0x09) || bytes[i] == 0x7f {
                return .failure(.malformed(reason: "control character in header \(String(decoding: bytes[name], as: UTF8.self))"))
            }
            fields.append(Field(name: name, value: value))
            let nameBytes = UnsafeRawBufferPointer(rebasing: bytes[name])
            switch nameBytes.count {
            case 10 where ASCIICase.equals(nameBytes, "connection"):
                forEachToken(UnsafeRawBufferPointer(rebasing: bytes[value])) { token in
                    if ASCIICase.equals(token, "close") { close = true }
                    if ASCIICase.equals(token, "keep-alive") { keepAliveToken = true }
                }
            case 6 where ASCIICase.equals(nameBytes, "expect"):
                if ASCIICase.equals(UnsafeRawBufferPointer(rebasing: bytes[value]), "100-continue") {
                    expectsContinue = true
                } else {
                    otherExpectation = true
                }
            case 14 where ASCIICase.equals(nameBytes, "content-length"):
                framingHeaders.append((.contentLength, UnsafeRawBufferPointer(rebasing: bytes[value])))
            case 17 where ASCIICase.equals(nameBytes, "transfer-encoding"):
                framingHeaders.append((.transferEncoding, UnsafeRawBufferPointer(rebasing: bytes[value])))
            default:
                break
            }
        }
        let framing = framingHeaders.isEmpty ? .none : RequestFraming.bodyFraming(headers: framingHeaders)
        let methodText = { String(decoding: bytes[methodToken], as: UTF8.self) }
        switch framing {
        case .malformed(let reason):
            return .failure(.malformed(reason: reason))
        case .length(let n) where n > 0 && !method.mayHaveBody:
            return .failure(.malformed(reason: "a \(methodText()) request with a body"))
        case .chunked where !method.mayHaveBody:
            return .failure(.malformed(reason: "a \(methodText()) request with a body"))
        case .length(let n) where n > maxBodyBytes:
            return .failure(.bodyTooLarge)
        default:
            break
        }
        if otherExpectation && minor == 1 { return .failure(.expectationFailed) }
        return .success(HTTPRequestHead(
            method: method, methodToken: methodToken, target: target, versionMinor: minor, fields: fields,
            framing: framing, keepAlive: minor == 1 ? !close : keepAliveToken && !close,
            expectsContinue: expectsContinue && minor == 1, length: count))
    }

    /// What a request line's `HTTP-version` (`HTTP/` DIGIT `.` DIGIT) asks for.
    enum Version: Equatable {
        /// 1.0 → 0; 1.1 and any later 1.x → 1, as RFC 9110 §2.5 asks (a
        /// higher minor version is served as the highest one understood).
        case minor(UInt8)
        /// HTTP/2.0 (the h2c preface's line), HTTP/0.9, …: 505.
        case otherMajor
        /// Not `HTTP/d.d` at all: 400.
        case malformed
    }

    static func version(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Version {
        guard range.count == 8 else { return .malformed }
        let prefix: StaticString = "HTTP/"
        for i in 0..<5 where bytes[range.lowerBound + i] != prefix.utf8Start[i] { return .malformed }
        let major = bytes[range.lowerBound + 5], dot = bytes[range.lowerBound + 6], minor = bytes[range.lowerBound + 7]
        let digits = UInt8(ascii: "0")...UInt8(ascii: "9")
        guard digits.contains(major), dot == UInt8(ascii: "."), digits.contains(minor) else { return .malformed }
        guard major == UInt8(ascii: "1") else { return .otherMajor }
        return .minor(minor == UInt8(ascii: "0") ? 0 : 1)
    }

    /// origin-form (`/…`), asterisk-form (`*`), or absolute-form with a
    /// well-formed authority (a closed IPv6 bracket, a port of at most 65535).
    /// authority-form (CONNECT's) is never served.
    static func isValidTarget(_ target: UnsafeRawBufferPointer) -> Bool {
        guard let first = target.first else { return false }
        if first == UInt8(ascii: "/") { return true }
        if target.count == 1 && first == UInt8(ascii: "*") { return true }
        // scheme "://" authority [path-abempty] [ "?" query ]
        var i = 0
        while i < target.count, isSchemeByte(target[i], first: i == 0) { i += 1 }
        guard i > 0, target.count >= i + 3, target[i] == UInt8(ascii: ":"), target[i + 1] == UInt8(ascii: "/"),
              target[i + 2] == UInt8(ascii: "/") else { return false }
        var start = i + 3
        var end = start
        while end < target.count, target[end] != UInt8(ascii: "/"), target[end] != UInt8(ascii: "?"),
              target[end] != UInt8(ascii: "#") { end += 1 }
        if let at = (start..<end).last(where: { target[$0] == UInt8(ascii: "@") }) { start = at + 1 }
        var hostEnd = start
        if start < end, target[start] == UInt8(ascii: "[") {
            guard let close = (start..<end).first(where: { target[$0] == UInt8(ascii: "]") }) else { return false }
            hostEnd = close + 1
        } else {
            while hostEnd < end, target[hostEnd] != UInt8(ascii: ":") { hostEnd += 1 }
        }
        guard hostEnd > start else { return false }
        if hostEnd == end { return true }
        guard target[hostEnd] == UInt8(ascii: ":") else { return false }
        let port = (hostEnd + 1)..<end
        guard port.count <= 5, port.allSatisfy({ (0x30...0x39).contains(target[$0]) }) else { return false }
        var value = 0
        for i in port { value = value * 10 + Int(target[i] - 0x30) }
        return value <= 65535
    }

    private static func isSchemeByte(_ b: UInt8, first: Bool) -> Bool {
        let alpha = (0x41...0x5a).contains(b) || (0x61...0x7a).contains(b)
        if first { return alpha }
        return alpha || (0x30...0x39).contains(b) || b == UInt8(ascii: "+") || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
    }

    /// Eight bytes at a time (a word XORed with the byte repeated is zero
    /// where they match; the lowest flagged byte is the first match), then
    /// byte by byte: a head is mostly long lines.
    static func firstIndex(_ bytes: UnsafeRawBufferPointer, of byte: UInt8, in range: Range<Int>) -> Int? {
        var i = range.lowerBound
        let pattern = UInt64(byte) &* 0x0101_0101_0101_0101
        while i + 8 <= range.upperBound {
            let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self)) ^ pattern
            let zeros = (word &- 0x0101_0101_0101_0101) & ~word & 0x8080_8080_8080_8080
            if zeros != 0 { return i + zeros.trailingZeroBitCount / 8 }
            i += 8
        }
        while i < range.upperBound {
            if bytes[i] == byte { return i }
            i += 1
        }
        return nil
    }

    static func lastIndex(_ bytes: UnsafeRawBufferPointer, of byte: UInt8, in range: Range<Int>) -> Int? {
        var i = range.upperBound
        while i > range.lowerBound {
            i -= 1
            if bytes[i] == byte { return i }
        }
        return nil
    }

    /// Each comma-separated token of a list value, trimmed.
    public static func forEachToken(_ value: UnsafeRawBufferPointer, _ body: (UnsafeRawBufferPointer) -> Void) {
        var start = 0
        while start <= value.count {
            var end = start
            while end < value.count, value[end] != UInt8(ascii: ",") { end += 1 }
            var a = start, b = end
            while a < b, value[a] == 0x20 || value[a] == 0x09 { a += 1 }
            while b > a, value[b - 1] == 0x20 || value[b - 1] == 0x09 { b -= 1 }
            if b > a { body(UnsafeRawBufferPointer(rebasing: value[a..<b])) }
            start = end + 1
        }
    }
}
