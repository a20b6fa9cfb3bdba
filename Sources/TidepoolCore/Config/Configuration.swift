/// Everything `tidepool serve` runs with, after the config file and the command
/// line were merged. A plain value: the CLI fills it, the host reads it.
public struct Configuration: Equatable, Sendable {
    /// Address the front proxy listens on.
    public var host: String = "127.0.0.1"
    public var port: Int = 3000
    /// The Fluid scheduler's knobs: pool bounds, concurrency per instance,
    /// queue, deadlines, windows (see `SchedulerConfig`).
    public var scheduler = SchedulerConfig()
    /// How instances are started.
    public var start: StartMode = .fork
    /// Largest request body accepted, in bytes (Vercel's limit is 4.5 MB).
    public var maxRequestBodyBytes: Int = 4_500_000
    /// How long a request may run, in seconds, before the client gets a 504
    /// (the scheduler's `maxDuration`; the scheduler alone enforces it).
    public var maxDurationSeconds: Double {
        let (seconds, attoseconds) = scheduler.maxDuration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
    /// When set, `/_tidepool/` (metrics, status, live page) is served on this
    /// port instead of the main one, which then answers 404 for those paths.
    public var adminPort: Int?
    /// Address of the admin listener: loopback, so a public `host` does not expose it.
    public var adminHost: String = "127.0.0.1"
    /// How log lines are written: `text` for people, `json` (one object per line) for collectors.
    public var logFormat: LogFormat = .text

    // MARK: Hardening limits (issue 7)

    /// Largest response body with a declared Content-Length, in bytes; larger
    /// ones get 500 FUNCTION_RESPONSE_PAYLOAD_TOO_LARGE. Like Vercel's 4.5 MB
    /// limit it applies to buffered responses only: a streamed response (no
    /// Content-Length) is not limited.
    public var maxResponseBodyBytes: Int = 4_500_000
    /// Largest request head (request line, headers and their line endings),
    /// in bytes: a larger one gets 431 REQUEST_HEADER_TOO_LARGE (RequestParser).
    public var maxHeaderBytes: Int = 32_768
    /// Longest request target, in bytes: longer ones get 414.
    public var maxURIBytes: Int = 8_192
    /// Seconds a client may take to send a request (or read a response chunk)
    /// before the front closes its connection; also the keep-alive idle limit.
    public var clientTimeoutSeconds: Double = 30
    /// Seconds from the first byte of a request head to its end: a client
    /// trickling its head (each byte within `clientTimeout`) is cut after
    /// this long with 408 REQUEST_TIMEOUT.
    public var headerTimeoutSeconds: Double = 10
    /// Seconds from the end of the head to the end of the body; past it the
    /// connection is answered 408 and closed. 60 s lets a 4.5 MB body arrive
    /// over a ~1 Mbit/s uplink.
    public var bodyTimeoutSeconds: Double = 60
    /// Peers whose `X-Forwarded-For` is kept (the peer is appended); anyone
    /// else's is replaced by the peer address.
    public var trustedProxies: [CIDR] = []
    /// Most client connections open at once; a connection beyond it is
    /// answered 503 and closed at once, while the open ones keep being served.
    public var maxConnections: Int = 1024
    /// Who instances run as when the host runs as root. `nil` (the default):
    /// `nobody` if `nobody` can read the project and its virtualenv, else root
    /// with a warning (a checkout under a 0700 `/root` is not readable by
    /// `nobody`). A user name: always that user, and the start fails when it
    /// cannot read the project. `""` or `"root"`: keep root. Ignored when the
    /// host does not run as root.
    public var user: String? = nil
    /// `RLIMIT_NOFILE` (soft and hard) of the template and every instance.
    public var instanceMaxOpenFiles: Int = 4096
    /// When false, `RLIMIT_CORE` is 0 in the template and every instance: a
    /// crashing app leaves no core file (which could hold secrets) behind.
    public var instanceCoreDumps: Bool = false

    public init() {}

    public enum LogFormat: String, Sendable, CaseIterable {
        case text
        case json
    }

    /// Fork instances from a template that imported the app once (milliseconds
    /// per start), or spawn each as a fresh interpreter (for apps that open
    /// sockets or threads at import, which fork would share).
    public enum StartMode: String, Sendable, CaseIterable {
        case fork
        case spawn
    }
}

/// The Python application to serve: where it lives and which object is the WSGI callable.
public struct AppTarget: Equatable, Sendable {
    /// Absolute path of the project directory (the instance's working directory).
    public var projectDirectory: String
    /// Directory put first on `sys.path` so the module imports with its package context.
    public var importRoot: String
    /// Dotted module name, e.g. `main` or `backend.server`.
    public var module: String
    /// Attribute holding the WSGI callable, e.g. `app`.
    public var attribute: String
    /// The virtualenv whose site-packages the app uses, or nil for the system Python.
    public var venv: String?
    /// `public/` directory served by the front, or nil when the project has none.
    public var publicDirectory: String?

    public init(
        projectDirectory: String, importRoot: String, module: String, attribute: String,
        venv: String?, publicDirectory: String?
    ) {
        self.projectDirectory = projectDirectory
        self.importRoot = importRoot
        self.module = module
        self.attribute = attribute
        self.venv = venv
        self.publicDirectory = publicDirectory
    }
}
