/// Decides, per request, what Vercel would do with it given `vercel.json` and
/// the files under `public/`, in Vercel's order (routing-utils'
/// `getTransformedRoutes`):
///
/// 1. `cleanUrls` then `trailingSlash` redirects (308),
/// 2. `redirects` (first match),
/// 3. `headers` (every match, collected for the response),
/// 4. the file system: `public/` (GET and HEAD only; a directory serves its
///    `index.html`; with `cleanUrls`, `/about` serves `about.html`),
/// 5. `rewrites` (first match; its destination is looked up in `public/` again),
/// 6. the app.
///
/// Pure: the file system is a function passed in, so every decision is unit-tested.
public struct Router: Sendable {
    public let config: VercelConfig
    /// The entrypoint file (`api/index.py`): a rewrite whose destination is
    /// that function itself (`/api/index`, the classic Vercel catch-all)
    /// leaves the path the app sees unchanged, as on Vercel.
    public let entrypointFile: String?

    public init(config: VercelConfig = VercelConfig(), entrypointFile: String? = nil) {
        self.config = config
        self.entrypointFile = entrypointFile
    }

    /// Whether any rule can look at the request's headers or query: when not,
    /// the front need not collect them (the common case without vercel.json).
    public var readsRequestHeaders: Bool {
        !config.redirects.isEmpty || !config.headers.isEmpty || !config.rewrites.isEmpty
    }

    /// What rules without `has`/`missing` conditions see: built once, not per request.
    private static let noFacts = RequestFacts(headers: [], query: nil)

    /// `lookup` says what a URL path (`/docs`, `/docs/index.html`) names under `public/`.
    public func route(_ request: RouteRequest, lookup: (String) -> PublicEntry) -> RouteDecision {
        let path = request.path
        if config.cleanUrls, let location = PathNormalization.cleanUrlsRedirect(path, trailingSlash: config.trailingSlash) {
            return RouteDecision(action: .redirect(status: 308, location: Self.withQuery(location, request.query)))
        }
        if let enabled = config.trailingSlash, let location = PathNormalization.trailingSlashRedirect(path, enabled: enabled) {
            return RouteDecision(action: .redirect(status: 308, location: Self.withQuery(location, request.query)))
        }
        let facts = readsRequestHeaders ? RequestFacts(headers: request.headers, query: request.query) : Self.noFacts
        for rule in config.redirects {
            guard let match = rule.source.match(path).map(Self.encoded),
                  let captured = RouteCondition.evaluate(has: rule.has, missing: rule.missing, request: facts)
            else { continue }
            let destination = match.substitute(into: rule.destination, extra: captured.mapValues(URLQuery.encodePath))
            let location = URLQuery.encodeUnsafe(URLQuery.merge(destination: destination, requestQuery: request.query))
            return RouteDecision(action: .redirect(status: rule.statusCode, location: location))
        }
        let headers = matchingHeaders(path: path, facts: facts)
        let servesFiles = request.method == "GET" || request.method == "HEAD"
        if servesFiles, let file = publicFile(for: path, lookup: lookup) {
            return RouteDecision(action: .staticFile(path: file), headers: headers)
        }
        for rule in config.rewrites {
            guard let match = rule.source.match(path),
                  let captured = RouteCondition.evaluate(has: rule.has, missing: rule.missing, request: facts)
            else { continue }
            // Parameters written into the destination are path-encoded; unused
            // ones become query parameters, which `substitute` encodes itself.
            let usesParameters = match.substitute(into: rule.destination, extra: captured) != rule.destination
            let destination = usesParameters
                ? Self.encoded(match).substitute(into: rule.destination, extra: captured.mapValues(URLQuery.encodePath))
                : match.substitute(into: rule.destination, extra: captured, appendUnusedAsQuery: true)
            if URLQuery.isExternal(destination) {
                return RouteDecision(action: .externalRewrite(destination: destination), headers: headers)
            }
            let target = URLQuery.merge(destination: destination, requestQuery: request.query)
            let (rewrittenPath, rewrittenQuery) = URLQuery.split(target)
            if servesFiles, let file = publicFile(for: rewrittenPath, lookup: lookup) {
                return RouteDecision(action: .staticFile(path: file), headers: headers)
            }
            if isEntrypoint(rewrittenPath) {
                // The catch-all to the function itself: the app routes on the URL the client asked for.
                let keepsQuery = rewrittenQuery == request.query
                return RouteDecision(action: .app(target: keepsQuery ? nil : Self.target(path, rewrittenQuery)), headers: headers)
            }
            return RouteDecision(action: .app(target: Self.target(rewrittenPath, rewrittenQuery)), headers: headers)
        }
        return RouteDecision(action: .app(target: nil), headers: headers)
    }

    /// Every `headers` rule that matches, merged by name (case-insensitive):
    /// a later rule replaces an earlier value, at the earlier one's position.
    func matchingHeaders(path: String, facts: RequestFacts) -> [HeaderRule.Header] {
        var result: [HeaderRule.Header] = []
        for rule in config.headers {
            guard let match = rule.source.match(path),
                  let captured = RouteCondition.evaluate(has: rule.has, missing: rule.missing, request: facts)
            else { continue }
            for header in rule.headers {
                let value = match.substitute(into: header.value, extra: captured)
                let key = header.key.lowercased()
                if let index = result.firstIndex(where: { $0.key.lowercased() == key }) {
                    result[index].value = value
                } else {
                    result.append(HeaderRule.Header(key: header.key, value: value))
                }
            }
        }
        return result
    }

    /// The file under `public/` a URL path serves, if any: the file itself, a
    /// directory's `index.html`, or with `cleanUrls` the path plus `.html`.
    func publicFile(for path: String, lookup: (String) -> PublicEntry) -> String? {
        guard path.hasPrefix("/") else { return nil }
        let entry = path == "/" ? .directory : lookup(path)
        if entry == .file, !path.hasSuffix("/") { return path }
        if entry == .directory {
            let index = (path.hasSuffix("/") ? path : path + "/") + "index.html"
            if lookup(index) == .file { return index }
        }
        if config.cleanUrls, path != "/", !path.hasSuffix("/"), lookup(path + ".html") == .file { return path + ".html" }
        return nil
    }

    private func isEntrypoint(_ path: String) -> Bool {
        guard let file = entrypointFile else { return false }
        let withoutExtension = file.hasSuffix(".py") ? String(file.dropLast(3)) : file
        return path == "/" + file || path == "/" + withoutExtension
    }

    /// The match with its values percent-encoded: they come from the decoded
    /// path and go into URLs, where a literal `?`, `#`, `%` or space would change the meaning.
    private static func encoded(_ match: SourceMatch) -> SourceMatch {
        SourceMatch(captures: match.captures.map(URLQuery.encodePath), parameters: match.parameters.mapValues(URLQuery.encodePath))
    }

    private static func withQuery(_ location: String, _ query: String?) -> String {
        URLQuery.encodeUnsafe(query.map { $0.isEmpty ? location : location + "?" + $0 } ?? location)
    }

    private static func target(_ path: String, _ query: String?) -> String {
        URLQuery.encodePath(path) + (query.map { "?" + $0 } ?? "")
    }
}
