import Foundation

/// A `has` / `missing` item of a vercel.json rule: the rule applies only when
/// the request has (or lacks) this header, query parameter, cookie or host.
/// Evaluation is pure so the front proxy can call it per request.
public struct RouteCondition: Equatable, Sendable {
    public enum Kind: String, Equatable, Sendable, CaseIterable {
        case header, query, host, cookie
    }

    public var type: Kind
    /// Header, query or cookie name; nil for `host`.
    public var key: String?
    /// A regular expression the whole value must match (`^(?:value)$`, as
    /// Vercel anchors it); nil means "present with any value". Its named
    /// groups become destination parameters.
    public var value: String?

    public init(type: Kind, key: String?, value: String?) {
        self.type = type
        self.key = key
        self.value = value
    }

    /// Parameters captured when the request satisfies the condition, nil when it does not.
    public func evaluate(_ request: RequestFacts) -> [String: String]? {
        let actual: String?
        switch type {
        case .header: actual = key.flatMap { request.header($0) }
        case .query: actual = key.flatMap { request.query[$0] }
        case .cookie: actual = key.flatMap { request.cookies[$0] }
        case .host: actual = request.hostname
        }
        guard let actual else { return nil }
        guard let value else {
            // Presence only: Vercel exposes the value under the key's safe name.
            guard let key else { return [:] }
            let safe = key.filter { $0.isASCII && ($0.isLetter || $0.isNumber) }
            return safe.isEmpty ? [:] : [safe: actual]
        }
        guard let regex = try? NSRegularExpression(pattern: "^(?:\(value))$"),
            let match = regex.firstMatch(in: actual, range: NSRange(actual.startIndex..., in: actual))
        else { return nil }
        var params: [String: String] = [:]
        for name in Self.groupNames(in: value) {
            if let r = Range(match.range(withName: name), in: actual) { params[name] = String(actual[r]) }
        }
        if type == .host, params.isEmpty { params["host"] = actual }
        return params
    }

    /// Evaluates a rule's `has` and `missing` lists together: every `has`
    /// satisfied and no `missing` satisfied. Returns the captured parameters, or nil.
    public static func evaluate(has: [RouteCondition], missing: [RouteCondition], request: RequestFacts) -> [String: String]? {
        var params: [String: String] = [:]
        for condition in has {
            guard let captured = condition.evaluate(request) else { return nil }
            params.merge(captured) { _, new in new }
        }
        for condition in missing where condition.evaluate(request) != nil {
            return nil
        }
        return params
    }

    /// `(?<name>…)` group names in a regex (ICU has no API that lists them).
    static func groupNames(in pattern: String) -> [String] {
        guard let finder = try? NSRegularExpression(pattern: #"\(\?<([A-Za-z][A-Za-z0-9]*)>"#) else { return [] }
        return finder.matches(in: pattern, range: NSRange(pattern.startIndex..., in: pattern)).compactMap {
            Range($0.range(at: 1), in: pattern).map { String(pattern[$0]) }
        }
    }
}

/// The parts of a request that `has`/`missing` conditions look at, built by
/// the front from whatever HTTP representation it has.
public struct RequestFacts: Equatable, Sendable {
    /// Header names lowercased; repeated headers joined with ", ".
    public var headers: [String: String]
    /// Decoded query parameters; the last value wins for repeated names (as on Vercel).
    public var query: [String: String]
    public var cookies: [String: String]
    /// The Host header without its port.
    public var hostname: String?

    public init(headers: [(name: String, value: String)], query rawQuery: String?) {
        var merged: [String: String] = [:]
        for (name, value) in headers {
            let key = name.lowercased()
            merged[key] = merged[key].map { "\($0), \(value)" } ?? value
        }
        self.headers = merged
        var query: [String: String] = [:]
        for pair in (rawQuery ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (s: Substring) in
                String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s)
            }
            query[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
        self.query = query
        var cookies: [String: String] = [:]
        for item in (merged["cookie"] ?? "").split(separator: ";") {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = parts[0].trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty else { continue }
            cookies[name] = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
        }
        self.cookies = cookies
        if let host = merged["host"] {
            // `[::1]:3000` keeps its brackets; `example.com:3000` loses the port.
            if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
                hostname = String(host[...close])
            } else {
                hostname = host.split(separator: ":", maxSplits: 1).first.map(String.init) ?? host
            }
        } else {
            hostname = nil
        }
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}
