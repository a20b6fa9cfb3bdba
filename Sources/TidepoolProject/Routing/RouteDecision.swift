/// One request as the router sees it: what `vercel.json` rules can look at.
/// Built by the front from the client's request; no IO behind it.
public struct RouteRequest: Sendable {
    /// `GET`, `HEAD`, `POST`, …; only GET and HEAD are answered from `public/`.
    public var method: String
    /// The percent-decoded URL path (`/docs/a b.html`), always starting with `/`.
    public var path: String
    /// The raw query string without `?`, nil when the target had none.
    public var query: String?
    /// The client's headers as sent (names in any case).
    public var headers: [(name: String, value: String)]

    public init(method: String, path: String, query: String?, headers: [(name: String, value: String)]) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
    }
}

/// What a URL path names under `public/`, as the front's file system lookup reports it.
public enum PublicEntry: Sendable, Equatable {
    case file
    case directory
    case missing
}

/// What the front does with a request, decided by `Router` from vercel.json
/// and the public directory's contents.
public struct RouteDecision: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        /// Answer with this status (301/302/303/307/308) and `Location`.
        case redirect(status: Int, location: String)
        /// Serve this file: a URL path under `public/` (`/docs/index.html`).
        case staticFile(path: String)
        /// Forward to the app. `target` is the request-target the app sees
        /// (path + query, percent-encoded), nil for the client's own target unchanged.
        case app(target: String?)
        /// A rewrite to another origin (`https://…`): a proxy Tidepool does not do.
        case externalRewrite(destination: String)
    }

    public var action: Action
    /// `vercel.json` `headers` that matched, in rule order, one entry per
    /// name (a later rule's value replaces an earlier one's, as on Vercel).
    public var headers: [HeaderRule.Header]

    public init(action: Action, headers: [HeaderRule.Header] = []) {
        self.action = action
        self.headers = headers
    }
}
