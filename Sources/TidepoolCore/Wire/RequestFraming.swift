/// Checks on a parsed request head that evhttp 2.1 does not make, each of
/// which could let one request's bytes be read as another request by some
/// hop (request smuggling) or gives a limit its proper status. Pure: the
/// front hands it the header names/values and the target length.
///
/// evhttp itself already answers 400 (malformed request line, header syntax,
/// bad chunk size, negative or non-numeric Content-Length) and 413 (body or
/// head over its limits); this covers what it accepts but should not:
/// - `Content-Length` and `Transfer-Encoding` together (RFC 9112 §6.3: a
///   server MAY reject; we must, since we then close and the peer may not agree
///   on where the body ends),
/// - `Content-Length` repeated (even with the same value) or not a plain number,
/// - `Transfer-Encoding` repeated or other than exactly `chunked` (evhttp
///   would silently fall back to Content-Length for `xchunked`, `chunked, identity`…),
/// - control characters in a header value (evhttp keeps them),
/// - a space or control byte in the request target,
/// - a request target longer than the limit (414).
public enum RequestFraming {
    public enum Verdict: Equatable, Sendable {
        case accept
        /// 400 MALFORMED_REQUEST, then close; `reason` goes to the log.
        case malformed(reason: String)
        /// 414 URI Too Long, then close.
        case uriTooLong
    }

    public static func check(headers: [(name: [UInt8], value: [UInt8])], target: [UInt8], maxTargetLength: Int) -> Verdict {
        if target.count > maxTargetLength { return .uriTooLong }
        // evhttp splits the request line on runs of spaces and keeps the rest in
        // the target: a space or control byte there means a malformed line.
        if target.contains(where: { $0 <= 0x20 || $0 == 0x7f }) {
            return .malformed(reason: "space or control character in the request target")
        }
        for (name, value) in headers {
            if value.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7f }) {
                return .malformed(reason: "control character in header \(String(decoding: name, as: UTF8.self))")
            }
            if name.isEmpty || name.contains(where: { !isTokenByte($0) }) {
                return .malformed(reason: "invalid header name")
            }
        }
        if case .malformed(let reason) = bodyFraming(headers: headers) { return .malformed(reason: reason) }
        return .accept
    }

    /// How a request's body is delimited, from its headers alone.
    public enum BodyFraming: Equatable, Sendable {
        /// No Content-Length and no Transfer-Encoding: no body.
        case none
        /// `Content-Length: n`.
        case length(Int64)
        /// `Transfer-Encoding: chunked`.
        case chunked
        /// Ambiguous or unsupported framing: 400 and close.
        case malformed(reason: String)
    }

    /// The framing rules above (one Content-Length of plain digits, or one
    /// `Transfer-Encoding: chunked`, never both), shared by the head check and
    /// the stream guard (`RequestStreamGuard`), which must agree with it on
    /// where a request ends. Headers other than these two are ignored.
    public static func bodyFraming(headers: [(name: [UInt8], value: [UInt8])]) -> BodyFraming {
        var length: Int64?
        var contentLengths = 0
        var transferEncodings = 0
        for (name, value) in headers {
            if equalsIgnoringCase(name, contentLength) {
                contentLengths += 1
                let trimmed = trim(value)
                if trimmed.isEmpty || !trimmed.allSatisfy({ (0x30...0x39).contains($0) }) {
                    return .malformed(reason: "Content-Length is not a number")
                }
                var n: Int64 = 0
                for digit in trimmed {
                    let (times, o1) = n.multipliedReportingOverflow(by: 10)
                    let (plus, o2) = times.addingReportingOverflow(Int64(digit - 0x30))
                    if o1 || o2 { return .malformed(reason: "Content-Length is out of range") }
                    n = plus
                }
                length = n
            } else if equalsIgnoringCase(name, transferEncoding) {
                transferEncodings += 1
                if !equalsIgnoringCase(trim(value), chunked) {
                    return .malformed(reason: "unsupported Transfer-Encoding")
                }
            }
        }
        if contentLengths > 1 { return .malformed(reason: "Content-Length repeated") }
        if transferEncodings > 1 { return .malformed(reason: "Transfer-Encoding repeated") }
        if contentLengths > 0 && transferEncodings > 0 {
            return .malformed(reason: "both Content-Length and Transfer-Encoding")
        }
        if transferEncodings > 0 { return .chunked }
        if let length { return .length(length) }
        return .none
    }

    static let contentLength = Array("content-length".utf8)
    static let transferEncoding = Array("transfer-encoding".utf8)
    static let chunked = Array("chunked".utf8)

    /// ASCII case-insensitive equality with an already lowercase `lower`.
    static func equalsIgnoringCase(_ bytes: some Collection<UInt8>, _ lower: [UInt8]) -> Bool {
        guard bytes.count == lower.count else { return false }
        return zip(bytes, lower).allSatisfy { ((0x41...0x5a).contains($0) ? $0 | 0x20 : $0) == $1 }
    }

    /// RFC 9110 token characters.
    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case 0x30...0x39, 0x41...0x5a, 0x61...0x7a: true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): true
        default: false
        }
    }

    public static func lowercased(_ bytes: [UInt8]) -> String {
        String(decoding: bytes.map { (0x41...0x5a).contains($0) ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    public static func trim(_ bytes: [UInt8]) -> [UInt8] {
        var slice = bytes[...]
        while let first = slice.first, first == 0x20 || first == 0x09 { slice = slice.dropFirst() }
        while let last = slice.last, last == 0x20 || last == 0x09 { slice = slice.dropLast() }
        return Array(slice)
    }
}
