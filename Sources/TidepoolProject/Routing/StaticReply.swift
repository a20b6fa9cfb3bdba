/// How to answer a GET/HEAD for a static file, from its validators and the
/// request's conditional and range headers (RFC 9110 §13, §14). Pure, so the
/// front only reads the file and writes what this decides.
public enum StaticReply: Equatable, Sendable {
    /// 200 with the whole file.
    case full
    /// 304: the client's copy is current.
    case notModified
    /// 206 with bytes `first...last` (inclusive) and `Content-Range: bytes first-last/size`.
    case partial(first: Int, last: Int)
    /// 416 with `Content-Range: bytes */size`.
    case unsatisfiable

    /// The file's identity for caching: a strong ETag from size, modification
    /// time (ns) and inode, so any change of content through a write or a
    /// replacement changes it.
    public static func etag(size: Int, modifiedNanos: Int, inode: UInt64) -> String {
        "\"\(String(size, radix: 16))-\(String(modifiedNanos, radix: 16))-\(String(inode, radix: 16))\""
    }

    public struct Conditions: Sendable {
        public var ifNoneMatch: String?
        public var ifModifiedSince: String?
        public var range: String?
        public var ifRange: String?

        public init(ifNoneMatch: String? = nil, ifModifiedSince: String? = nil, range: String? = nil, ifRange: String? = nil) {
            self.ifNoneMatch = ifNoneMatch
            self.ifModifiedSince = ifModifiedSince
            self.range = range
            self.ifRange = ifRange
        }
    }

    /// `If-None-Match` wins over `If-Modified-Since`; `Range` applies to GET
    /// only, one range only (several ranges get the whole file, which RFC 9110
    /// allows), and only while `If-Range` (if sent) still names this version.
    public static func decide(
        method: String, size: Int, etag: String, modifiedSeconds: Int, conditions: Conditions
    ) -> StaticReply {
        if let ifNoneMatch = conditions.ifNoneMatch {
            if matches(ifNoneMatch, etag: etag) { return .notModified }
        } else if let since = conditions.ifModifiedSince.flatMap(HTTPDate.parse), modifiedSeconds <= since {
            return .notModified
        }
        guard method == "GET", let range = conditions.range else { return .full }
        if let ifRange = conditions.ifRange?.trimmed, !ifRange.isEmpty {
            let current = ifRange.hasPrefix("\"") ? ifRange == etag : HTTPDate.parse(ifRange) == modifiedSeconds
            guard current else { return .full }
        }
        return byteRange(range, size: size)
    }

    /// One `bytes=` range against `size`; anything malformed is ignored (full reply).
    static func byteRange(_ header: String, size: Int) -> StaticReply {
        let header = header.trimmed
        guard header.lowercased().hasPrefix("bytes=") else { return .full }
        let spec = header.dropFirst(6).trimmed
        guard !spec.contains(","), let dash = spec.firstIndex(of: "-") else { return .full }
        let startText = spec[..<dash].trimmed
        let endText = spec[spec.index(after: dash)...].trimmed
        guard startText.allSatisfy(\.isASCIIDigit), endText.allSatisfy(\.isASCIIDigit) else { return .full }
        if startText.isEmpty {
            // Suffix: the last N bytes.
            guard let count = Int(endText) else { return .full }
            guard count > 0, size > 0 else { return .unsatisfiable }
            return .partial(first: max(0, size - count), last: size - 1)
        }
        guard let first = Int(startText) else { return .unsatisfiable }  // too large for Int: beyond any file
        let last = endText.isEmpty ? Int.max : (Int(endText) ?? Int.max)
        guard last >= first else { return .full }  // invalid per RFC: ignore the header
        guard first < size else { return .unsatisfiable }
        return .partial(first: first, last: min(last, size - 1))
    }

    /// Weak comparison over a list of entity tags, or `*`.
    static func matches(_ list: String, etag: String) -> Bool {
        let opaque = etag.hasPrefix("W/") ? String(etag.dropFirst(2)) : etag
        for item in list.split(separator: ",") {
            let tag = item.trimmed
            if tag == "*" { return true }
            if (tag.hasPrefix("W/") ? String(tag.dropFirst(2)) : tag) == opaque { return true }
        }
        return false
    }
}

private extension StringProtocol {
    var trimmed: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}

private extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
