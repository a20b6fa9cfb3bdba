import Foundation

/// Query string and path encoding helpers for building `Location` headers
/// and rewritten targets. Pure string work.
enum URLQuery {
    /// Appends the request's query to `destination`: every request parameter
    /// whose name the destination does not already set, after the
    /// destination's own (Vercel keeps the query through redirects and
    /// rewrites; a parameter written in the destination wins).
    static func merge(destination: String, requestQuery: String?) -> String {
        guard let requestQuery, !requestQuery.isEmpty else { return destination }
        var base = destination
        var fragment = ""
        if let hash = base.firstIndex(of: "#") {
            fragment = String(base[hash...])
            base = String(base[..<hash])
        }
        let existing = Set(keys(of: base.firstIndex(of: "?").map { String(base[base.index(after: $0)...]) } ?? ""))
        let added = requestQuery.split(separator: "&", omittingEmptySubsequences: true).filter {
            !existing.contains(decodedKey($0))
        }
        guard !added.isEmpty else { return destination }
        let separator = base.contains("?") ? (base.hasSuffix("?") || base.hasSuffix("&") ? "" : "&") : "?"
        return base + separator + added.joined(separator: "&") + fragment
    }

    static func keys(of query: String) -> [String] {
        query.split(separator: "&").map { decodedKey($0) }
    }

    private static func decodedKey(_ pair: Substring) -> String {
        let key = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        return String(key).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(key)
    }

    /// Percent-encodes what may not appear in a URL as sent: controls, space,
    /// non-ASCII and `"<>\^`{|}`. Existing `%XX` escapes and reserved
    /// characters stay, so an already valid URL is unchanged and a
    /// `Location` can never carry a line break.
    static func encodeUnsafe(_ url: String, alsoEncoding extra: String = "") -> String {
        var out = ""
        for byte in url.utf8 {
            switch byte {
            case 0x21...0x7E where !#""<>\^`{|}"#.utf8.contains(byte) && !extra.utf8.contains(byte):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 0xF, radix: 16, uppercase: true)
            }
        }
        return out
    }

    /// Encodes a decoded path for a request-target: like `encodeUnsafe`, and
    /// `%`, `?` and `#` too, since in a decoded path they are literal characters.
    static func encodePath(_ path: String) -> String {
        encodeUnsafe(path, alsoEncoding: "%?#")
    }

    /// Splits `/path?query` into its decoded path and raw query.
    static func split(_ target: String) -> (path: String, query: String?) {
        var target = target
        if let hash = target.firstIndex(of: "#") { target = String(target[..<hash]) }
        guard let q = target.firstIndex(of: "?") else { return (target.removingPercentEncoding ?? target, nil) }
        let path = String(target[..<q])
        return (path.removingPercentEncoding ?? path, String(target[target.index(after: q)...]))
    }

    /// `http://…`, `https://…` or `//host/…`: another origin.
    static func isExternal(_ destination: String) -> Bool {
        let lower = destination.lowercased()
        return lower.hasPrefix("http://") || lower.hasPrefix("https://") || lower.hasPrefix("//")
    }
}
