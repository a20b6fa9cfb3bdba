/// The redirects Vercel generates from `cleanUrls` and `trailingSlash`
/// (routing-utils' `convertCleanUrls` / `convertTrailingSlash`), evaluated
/// before the project's own redirects. Written out by hand instead of as
/// regexes; each function names the pattern it stands for.
enum PathNormalization {
    /// cleanUrls: `^/(?:(.+)/)?index(?:\.html)?/?$` and `^/(.*)\.html/?$`
    /// redirect to the path without `index` / `.html` (with a trailing slash
    /// when `trailingSlash` is true). Nil when the path is already clean.
    static func cleanUrlsRedirect(_ path: String, trailingSlash: Bool?) -> String? {
        var body = path.dropFirst()  // without the leading "/"
        if body.hasSuffix("/") { body = body.dropLast() }
        let finish = { (rest: Substring) -> String in
            rest.isEmpty ? "/" : "/" + rest + (trailingSlash == true ? "/" : "")
        }
        let segments = body.split(separator: "/", omittingEmptySubsequences: false)
        if let last = segments.last, last == "index" || last == "index.html" {
            let prefix = body.dropLast(last.count)
            // `(.+)/` needs a non-empty prefix ending in "/"; "index" alone is the root.
            if prefix.isEmpty { return finish("") }
            if prefix.hasSuffix("/"), prefix.count > 1 { return finish(prefix.dropLast()) }
        }
        if body.hasSuffix(".html") { return finish(body.dropLast(5)) }
        return nil
    }

    /// trailingSlash true: `^/((?:[^/]+/)*[^/\.]+)$` → `/$1/` (paths whose last
    /// segment has no dot) and `^/((?:[^/]+/)*[^/]+\.\w+)/$` → `/$1` (files lose
    /// the slash); `/.well-known/…` is left alone. trailingSlash false:
    /// `^/(.*)\/$` → `/$1`.
    static func trailingSlashRedirect(_ path: String, enabled: Bool) -> String? {
        guard path.count > 1 else { return nil }
        guard enabled else { return path.hasSuffix("/") ? String(path.dropLast()) : nil }
        if path == "/.well-known" || path.hasPrefix("/.well-known/") { return nil }
        if path.hasSuffix("/") {
            let body = path.dropFirst().dropLast()
            let segments = body.split(separator: "/", omittingEmptySubsequences: false)
            guard !segments.contains(where: \.isEmpty), let last = segments.last, looksLikeFile(last) else { return nil }
            return String(path.dropLast())
        }
        let segments = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        guard !segments.contains(where: \.isEmpty), let last = segments.last, !last.contains(".") else { return nil }
        return path + "/"
    }

    /// `[^/]+\.\w+` for one segment: something, a dot, then word characters to the end.
    private static func looksLikeFile(_ segment: Substring) -> Bool {
        guard let dot = segment.lastIndex(of: "."), dot != segment.startIndex else { return false }
        let ext = segment[segment.index(after: dot)...]
        return !ext.isEmpty && ext.allSatisfy { $0 == "_" || ($0.isASCII && ($0.isLetter || $0.isNumber)) }
    }
}
