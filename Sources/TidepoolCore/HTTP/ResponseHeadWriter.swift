/// Serializes HTTP/1.x response heads and chunk framing into a byte buffer.
/// Pure; the front appends the result to the connection's output in one add.
public enum ResponseHeadWriter {
    /// `HTTP/1.x status reason\r\n`. A missing, empty or control-bearing
    /// reason is replaced by the standard phrase. At most
    /// `statusLineBytes(reason:)` bytes.
    public static func statusLine(versionMinor: UInt8, status: Int, reason: String?, into out: inout ByteCursor) {
        if status == 200, reason == nil || reason == "OK" {  // nearly every reply: one copy
            out.put(versionMinor == 0 ? ok10 : ok11)
            return
        }
        out.put(versionMinor == 0 ? http10 : http11)
        out.putDecimal(status)
        out.put(0x20)
        var text = reason.flatMap { $0.isEmpty || $0.utf8.contains(where: { $0 < 0x20 || $0 == 0x7f }) ? nil : $0 }
            ?? reasonPhrase(status)
        text.withUTF8 { out.put(UnsafeRawBufferPointer($0)) }
        out.put("\r\n")
    }

    /// The most `statusLine` writes with this reason.
    public static func statusLineBytes(reason: String?) -> Int {
        96 + (reason?.utf8.count ?? 0)  // 20 digits at most, and the longest standard phrase
    }

    /// `name: value\r\n`. The caller never passes CR, LF or NUL (`isSafe`).
    /// Raw buffers, not generic collections: the front calls these per
    /// header across the module boundary, where a generic would not be
    /// specialized (a witness-table call per byte).
    public static func header(_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, into out: inout [UInt8]) {
        out.appendRaw(name)
        out.append(0x3a)
        out.append(0x20)
        out.appendRaw(value)
        out.append(0x0d)
        out.append(0x0a)
    }

    public static func header(_ name: StaticString, decimal value: Int, into out: inout ByteCursor) {
        out.put(name)
        out.put(0x3a)
        out.put(0x20)
        out.putDecimal(value)
        out.put("\r\n")
    }

    /// Whether a name or value may go on a header line as is.
    public static func isSafe(_ bytes: UnsafeRawBufferPointer) -> Bool {
        for byte in bytes where byte == 0 || byte == 0x0a || byte == 0x0d { return false }
        return true
    }

    /// The blank line ending the head.
    public static func end(into out: inout ByteCursor) {
        out.put("\r\n")
    }

    /// A chunk's size line (`hex\r\n`, at most 18 bytes); its data and `\r\n` follow.
    public static func chunkHeader(size: Int, into out: inout ByteCursor) {
        precondition(size > 0)
        // Hex digits from the highest nonzero nibble down.
        var shift = (Int.bitWidth - size.leadingZeroBitCount - 1) / 4 * 4
        while shift >= 0 {
            let d = UInt8((size >> shift) & 0xf)
            out.put(d < 10 ? 0x30 + d : 0x61 + d - 10)
            shift -= 4
        }
        out.put("\r\n")
    }

    public static let crlf: [UInt8] = [0x0d, 0x0a]
    /// The end of a chunked body: the last (empty) chunk, no trailers.
    public static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)
    public static let continueResponse: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
    static let http10: StaticString = "HTTP/1.0 "
    static let http11: StaticString = "HTTP/1.1 "
    static let ok10: StaticString = "HTTP/1.0 200 OK\r\n"
    static let ok11: StaticString = "HTTP/1.1 200 OK\r\n"

    /// The standard reason phrase (RFC 9110 §15).
    public static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 203: "Non-Authoritative Information"
        case 204: "No Content"
        case 205: "Reset Content"
        case 206: "Partial Content"
        case 300: "Multiple Choices"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 402: "Payment Required"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 406: "Not Acceptable"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 410: "Gone"
        case 411: "Length Required"
        case 412: "Precondition Failed"
        case 413: "Payload Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 416: "Range Not Satisfiable"
        case 417: "Expectation Failed"
        case 418: "I'm a teapot"
        case 422: "Unprocessable Content"
        case 425: "Too Early"
        case 426: "Upgrade Required"
        case 428: "Precondition Required"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 451: "Unavailable For Legal Reasons"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default:
            switch status / 100 {
            case 1: "Informational"
            case 2: "Success"
            case 3: "Redirection"
            case 4: "Client Error"
            default: "Server Error"
            }
        }
    }
}
