/// The framing rules of a request head (RFC 9112 §6): the checks that keep one
/// request's bytes from being read as another request by some hop (request
/// smuggling). Pure; `HTTPRequestHead.parse` applies them:
/// - `Content-Length` and `Transfer-Encoding` together are refused (RFC 9112
///   §6.3: a server MAY reject; we must, since we then close and the peer may
///   not agree on where the body ends),
/// - `Content-Length` repeated (even with the same value) or not a plain number,
/// - `Transfer-Encoding` repeated or other than exactly `chunked` (`xchunked`,
///   `chunked, identity`…).
public enum RequestFraming {
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

    /// Which framing header a value came from (the parser matched the name).
    public enum FramingHeader: Sendable {
        case contentLength
        case transferEncoding
    }

    /// The framing rules above (one Content-Length of plain digits, or one
    /// `Transfer-Encoding: chunked`, never both), over the values of those two
    /// headers as the parser found them (already without surrounding whitespace).
    public static func bodyFraming(headers: [(FramingHeader, UnsafeRawBufferPointer)]) -> BodyFraming {
        var length: Int64?
        var contentLengths = 0
        var transferEncodings = 0
        for (header, value) in headers {
            switch header {
            case .contentLength:
                contentLengths += 1
                guard let n = contentLength(value) else {
                    // Which rule it broke, only once it is refused.
                    let digits = !value.isEmpty && value.allSatisfy { (0x30...0x39).contains($0) }
                    return .malformed(reason: digits ? "Content-Length is out of range" : "Content-Length is not a number")
                }
                length = n
            case .transferEncoding:
                transferEncodings += 1
                if !ASCIICase.equals(value, "chunked") {
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

    /// A Content-Length value, `1*DIGIT` (RFC 9110 §8.6): nil when it is
    /// empty, holds anything else (a sign, a space), or is past `Int64.max`.
    /// Requests and the app's responses are read by this one rule.
    public static func contentLength(_ value: UnsafeRawBufferPointer) -> Int64? {
        guard !value.isEmpty else { return nil }
        var n: Int64 = 0
        for digit in value {
            guard (0x30...0x39).contains(digit) else { return nil }
            let (times, o1) = n.multipliedReportingOverflow(by: 10)
            let (plus, o2) = times.addingReportingOverflow(Int64(digit - 0x30))
            if o1 || o2 { return nil }
            n = plus
        }
        return n
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

    /// `bytes` without the spaces and tabs around it.
    public static func trim(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        var slice = bytes[...]
        while let first = slice.first, first == 0x20 || first == 0x09 { slice = slice.dropFirst() }
        while let last = slice.last, last == 0x20 || last == 0x09 { slice = slice.dropLast() }
        return UnsafeRawBufferPointer(rebasing: slice)
    }
}
