/// The request methods the front knows by name. Anything else is `.other`
/// (answered 501 by the front: methods are case-sensitive, RFC 9110 §9.1).
public enum HTTPMethod: UInt8, Sendable {
    case get, head, post, put, patch, delete, options, trace, connect, other

    /// The method token, as the app sees it in `REQUEST_METHOD` (`.other`
    /// has none: its token is the one the client sent, `HTTPRequest.methodText`).
    public var name: String {
        switch self {
        case .get: "GET"
        case .head: "HEAD"
        case .post: "POST"
        case .put: "PUT"
        case .patch: "PATCH"
        case .delete: "DELETE"
        case .options: "OPTIONS"
        case .trace: "TRACE"
        case .connect: "CONNECT"
        case .other: "-"
        }
    }

    /// Whether a request with this method may carry a body the front reads.
    /// A HEAD, TRACE or CONNECT with a body is refused (400): it has no use
    /// here, and a hop that ignores such a body would read it as a request.
    public var mayHaveBody: Bool {
        switch self {
        case .head, .trace, .connect: false
        default: true
        }
    }

    /// The method named by `token` (exact, case-sensitive).
    public static func named(_ token: UnsafeRawBufferPointer) -> HTTPMethod {
        func equals(_ text: StaticString) -> Bool {
            guard token.count == text.utf8CodeUnitCount else { return false }
            for i in 0..<token.count where token[i] != text.utf8Start[i] { return false }
            return true
        }
        guard !token.isEmpty else { return .other }
        switch token[0] {
        case UInt8(ascii: "G"): return equals("GET") ? .get : .other
        case UInt8(ascii: "H"): return equals("HEAD") ? .head : .other
        case UInt8(ascii: "P"): return equals("POST") ? .post : equals("PUT") ? .put : equals("PATCH") ? .patch : .other
        case UInt8(ascii: "D"): return equals("DELETE") ? .delete : .other
        case UInt8(ascii: "O"): return equals("OPTIONS") ? .options : .other
        case UInt8(ascii: "T"): return equals("TRACE") ? .trace : .other
        case UInt8(ascii: "C"): return equals("CONNECT") ? .connect : .other
        default: return .other
        }
    }
}
