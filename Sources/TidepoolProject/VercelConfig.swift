import Foundation

/// The `vercel.json` settings Tidepool honours, as typed values. Parsed once
/// at start (`VercelConfigParser`); the front proxy applies headers,
/// redirects, rewrites, cleanUrls and trailingSlash per request, the
/// scheduler reads `functions`.
public struct VercelConfig: Equatable, Sendable {
    /// Overrides `[tool.vercel.scripts] build` in pyproject.toml.
    public var buildCommand: String?
    public var headers: [HeaderRule] = []
    public var redirects: [RedirectRule] = []
    public var rewrites: [RewriteRule] = []
    /// `/about.html` is served at `/about`, and `/about.html` redirects there.
    public var cleanUrls: Bool = false
    /// true: add a trailing slash by redirect; false: remove it; nil: leave paths alone.
    public var trailingSlash: Bool?
    /// Per-function settings keyed by a glob over project files, in file order.
    public var functions: [FunctionRule] = []

    public init() {}

    /// The file name, for messages.
    public static let fileName = "vercel.json"

    /// Reads `<directory>/vercel.json`; nil when there is none. Warnings
    /// (unknown or ignored keys) are returned for the caller to log once.
    public static func load(directory: URL) throws -> (config: VercelConfig, warnings: [String])? {
        let file = directory.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        let data: Data
        do {
            data = try Data(contentsOf: file)
        } catch {
            throw ProjectError.invalidVercelConfig(file: fileName, path: "", reason: "cannot be read: \(error.localizedDescription)")
        }
        return try VercelConfigParser.parse(data)
    }

    /// The first `functions` entry whose glob matches the entrypoint file (e.g. `api/*.py`).
    public func functionSettings(for file: String) -> FunctionRule? {
        functions.first { $0.matches(file) }
    }
}

/// `headers[]`: response headers added when `source` (and has/missing) match.
public struct HeaderRule: Equatable, Sendable {
    public var source: SourcePattern
    public var headers: [Header]
    public var has: [RouteCondition]
    public var missing: [RouteCondition]

    public struct Header: Equatable, Sendable {
        public var key: String
        public var value: String
        public init(key: String, value: String) {
            self.key = key
            self.value = value
        }
    }
}

/// `redirects[]`: answer with `statusCode` and a Location built from `destination`.
public struct RedirectRule: Equatable, Sendable {
    public var source: SourcePattern
    public var destination: String
    /// 308 (`permanent`, the default), 307 (`permanent: false`) or the explicit `statusCode`.
    public var statusCode: Int
    public var has: [RouteCondition]
    public var missing: [RouteCondition]
}

/// `rewrites[]`: serve `destination` (a static file or an app path) in place of the request path.
public struct RewriteRule: Equatable, Sendable {
    public var source: SourcePattern
    public var destination: String
    public var has: [RouteCondition]
    public var missing: [RouteCondition]
}

/// `functions["glob"]`: limits for the functions whose file matches the glob.
public struct FunctionRule: Equatable, Sendable {
    /// The key as written, e.g. `api/*.py` or `main.py`.
    public var glob: String
    /// Seconds a request may run before the 504.
    public var maxDuration: Double?
    /// Memory in MB.
    public var memory: Int?
    /// Concurrent requests one instance takes (Fluid's in-function concurrency).
    public var maxConcurrency: Int?

    public init(glob: String, maxDuration: Double? = nil, memory: Int? = nil, maxConcurrency: Int? = nil) {
        self.glob = glob
        self.maxDuration = maxDuration
        self.memory = memory
        self.maxConcurrency = maxConcurrency
    }

    /// Glob match over a project-relative path: `*` and `?` stay within a
    /// segment, `**` spans segments; a leading `./` is ignored.
    public func matches(_ file: String) -> Bool {
        var glob = glob
        if glob.hasPrefix("./") { glob.removeFirst(2) }
        var pattern = "^"
        let chars = Array(glob)
        var i = 0
        while i < chars.count {
            switch chars[i] {
            case "*":
                if i + 1 < chars.count, chars[i + 1] == "*" {
                    i += 1
                    if i + 1 < chars.count, chars[i + 1] == "/" { i += 1; pattern += "(?:.*/)?" } else { pattern += ".*" }
                } else {
                    pattern += "[^/]*"
                }
            case "?": pattern += "[^/]"
            default: pattern += NSRegularExpression.escapedPattern(for: String(chars[i]))
            }
            i += 1
        }
        pattern += "$"
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return false }
        return regex.firstMatch(in: file, range: NSRange(file.startIndex..., in: file)) != nil
    }
}

extension SourcePattern: Equatable {
    public static func == (lhs: SourcePattern, rhs: SourcePattern) -> Bool { lhs.source == rhs.source }
}
