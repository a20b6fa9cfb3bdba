import Foundation

/// A `vercel.json` `source` pattern (`/blog/:slug`, `/api/:path*`, `/(.*)`),
/// compiled exactly the way Vercel compiles it: path-to-regexp 6 with
/// `strict: true, sensitive: true, delimiter: "/"` (routing-utils'
/// `sourceToRegex`). A port rather than an approximation, so that a route
/// matches here iff it matches on Vercel. Pure: no IO, safe to share.
public struct SourcePattern: Sendable, CustomStringConvertible {
    /// The pattern as written in vercel.json.
    public let source: String
    /// The anchored regular expression it compiles to (ICU syntax, which accepts path-to-regexp's output).
    public let regularExpression: String
    /// One entry per parameter, in order: its name, or nil for an unnamed group like `(.*)`.
    public let parameterNames: [String?]
    /// Capture group index (1-based) of each parameter in `parameterNames`.
    let groupIndexes: [Int]
    let regex: NSRegularExpression

    public var description: String { source }

    public init(_ source: String) throws(SourcePatternError) {
        self.source = source
        let tokens = try PathToRegexp.parse(source)
        let compiled = PathToRegexp.compile(tokens)
        regularExpression = compiled.pattern
        parameterNames = compiled.names
        groupIndexes = compiled.groups
        do {
            regex = try NSRegularExpression(pattern: compiled.pattern)
        } catch {
            throw SourcePatternError(source: source, reason: "its regular expression does not compile (\(compiled.pattern))")
        }
    }

    /// Matches a URL path (no query string). Case-sensitive, the whole path, no
    /// optional trailing slash (`strict`): `/about` does not match `/about/`.
    public func match(_ path: String) -> SourceMatch? {
        let range = NSRange(path.startIndex..., in: path)
        guard let result = regex.firstMatch(in: path, range: range) else { return nil }
        func group(_ index: Int) -> String? {
            guard index < result.numberOfRanges, let r = Range(result.range(at: index), in: path) else { return nil }
            return String(path[r])
        }
        let captures = (1..<max(1, result.numberOfRanges)).map { group($0) ?? "" }
        var named: [String: String] = [:]
        for (name, index) in zip(parameterNames, groupIndexes) {
            if let name, let value = group(index) { named[name] = value }
        }
        return SourceMatch(captures: captures, parameters: named)
    }
}

/// Why a `source` pattern cannot be compiled (path-to-regexp's own reasons).
public struct SourcePatternError: Error, Equatable, Sendable, CustomStringConvertible {
    public var source: String
    public var reason: String
    public var description: String { "invalid source pattern `\(source)`: \(reason)" }
}

/// The result of a successful `SourcePattern.match`: what `$1` and `:name` stand for.
public struct SourceMatch: Equatable, Sendable {
    /// Every capture group in order: `captures[0]` is `$1`. Unmatched optional groups are "".
    public var captures: [String]
    /// Named parameters (`:slug` → `slug`); only those that matched.
    public var parameters: [String: String]

    public init(captures: [String], parameters: [String: String]) {
        self.captures = captures
        self.parameters = parameters
    }

    /// Fills a `destination` the way Vercel does: `:name` (with any `*`, `+`,
    /// `?` modifier after it) becomes the parameter, `$1`… the capture group.
    /// `extra` holds parameters captured by `has` conditions (named regex groups).
    ///
    /// For rewrites (`appendUnusedAsQuery`), when the destination uses no
    /// parameter at all, the named parameters are passed as query parameters
    /// instead, as Vercel does (`/blog/:slug` → `/post.html` gives `/post.html?slug=…`).
    public func substitute(into destination: String, extra: [String: String] = [:], appendUnusedAsQuery: Bool = false) -> String {
        let params = parameters.merging(extra) { _, new in new }
        var output = ""
        var usedAny = false
        let chars = Array(destination)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == ":" || c == "$" {
                var j = i + 1
                while j < chars.count, chars[j] == "_" || chars[j].isLetter || chars[j].isNumber, chars[j].isASCII { j += 1 }
                let name = String(chars[(i + 1)..<j])
                if c == "$", !name.isEmpty, let n = Int(name), n >= 1 {
                    output += n <= captures.count ? captures[n - 1] : ""
                    usedAny = true
                    i = j
                    continue
                }
                if !name.isEmpty, let value = params[name] {
                    output += value
                    usedAny = true
                    i = j
                    if c == ":", i < chars.count, "*+?".contains(chars[i]) { i += 1 }
                    continue
                }
            }
            output.append(c)
            i += 1
        }
        guard appendUnusedAsQuery, !usedAny, !params.isEmpty else { return output }
        let (beforeFragment, fragment) = splitFragment(output)
        let existingKeys = Set(queryKeys(beforeFragment))
        let additions = params.keys.sorted().filter { !existingKeys.contains($0) }.map { key in
            "\(percentEncodeQuery(key))=\(percentEncodeQuery(params[key]!))"
        }
        guard !additions.isEmpty else { return output }
        let separator = beforeFragment.contains("?") ? (beforeFragment.hasSuffix("?") || beforeFragment.hasSuffix("&") ? "" : "&") : "?"
        return beforeFragment + separator + additions.joined(separator: "&") + fragment
    }

    private func splitFragment(_ url: String) -> (String, String) {
        guard let hash = url.firstIndex(of: "#") else { return (url, "") }
        return (String(url[..<hash]), String(url[hash...]))
    }

    private func queryKeys(_ url: String) -> [String] {
        guard let q = url.firstIndex(of: "?") else { return [] }
        return url[url.index(after: q)...].split(separator: "&").map { String($0.split(separator: "=", maxSplits: 1).first ?? "") }
    }

    private func percentEncodeQuery(_ s: String) -> String {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+#")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }
}
