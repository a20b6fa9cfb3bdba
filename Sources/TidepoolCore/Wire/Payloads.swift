/// An HTTP header as bytes: HTTP allows any octet in values, and WSGI hands them
/// to the app as latin-1 strings, so nothing here assumes UTF-8.
public struct Header: Equatable, Sendable {
    public var name: [UInt8]
    public var value: [UInt8]

    public init(name: [UInt8], value: [UInt8]) {
        self.name = name
        self.value = value
    }

    public init(_ name: String, _ value: String) {
        self.name = Array(name.utf8)
        self.value = Array(value.utf8)
    }

    /// The name decoded as latin-1 (never fails).
    public var nameString: String { Latin1.string(name) }
    /// The value decoded as latin-1 (never fails).
    public var valueString: String { Latin1.string(value) }
}

/// How an instance process came to life.
public enum StartKind: UInt8, Sendable, CaseIterable {
    /// Forked from the template that had already imported the app.
    case fork = 0
    /// A fresh process that initialised Python and imported the app itself.
    case spawn = 1
    /// The template itself (it never serves).
    case template = 2

    public var name: String {
        switch self {
        case .fork: "fork"
        case .spawn: "spawn"
        case .template: "template"
        }
    }
}

/// One measured phase of a start (e.g. `python-init`, `import`, `fork`), for
/// cold-start visibility (`server-timing`).
public struct StartPhase: Equatable, Sendable {
    public var name: String
    public var nanos: UInt64

    public init(name: String, nanos: UInt64) {
        self.name = name
        self.nanos = nanos
    }
}

/// Payload of `ready`.
public struct Ready: Equatable, Sendable {
    public var pid: Int32
    public var kind: StartKind
    /// Handler threads, i.e. how many requests the instance can run at once.
    public var threads: UInt32
    public var phases: [StartPhase]

    public init(pid: Int32, kind: StartKind, threads: UInt32, phases: [StartPhase]) {
        self.pid = pid
        self.kind = kind
        self.threads = threads
        self.phases = phases
    }
}

/// Payload of `requestHead`: everything WSGI's environ needs that is not the body.
public struct RequestHead: Equatable, Sendable {
    public var method: String
    /// The request-target exactly as the client sent it (path and query, still percent-encoded).
    public var target: [UInt8]
    public var versionMajor: UInt8
    public var versionMinor: UInt8
    public var headers: [Header]
    public var remoteAddress: String
    public var remotePort: UInt16
    public var serverName: String
    public var serverPort: UInt16
    /// `http` or `https` (as seen by the client, for `wsgi.url_scheme`).
    public var scheme: String
    /// How long the request may run, in milliseconds; 0 means no limit.
    public var timeoutMillis: UInt32

    public init(
        method: String, target: [UInt8], versionMajor: UInt8 = 1, versionMinor: UInt8 = 1,
        headers: [Header] = [], remoteAddress: String = "127.0.0.1", remotePort: UInt16 = 0,
        serverName: String = "127.0.0.1", serverPort: UInt16 = 80, scheme: String = "http",
        timeoutMillis: UInt32 = 0
    ) {
        self.method = method
        self.target = target
        self.versionMajor = versionMajor
        self.versionMinor = versionMinor
        self.headers = headers
        self.remoteAddress = remoteAddress
        self.remotePort = remotePort
        self.serverName = serverName
        self.serverPort = serverPort
        self.scheme = scheme
        self.timeoutMillis = timeoutMillis
    }
}

/// Payload of `responseHead`.
public struct ResponseHead: Equatable, Sendable {
    public var status: UInt16
    public var reason: String
    public var headers: HeaderBlock

    public init(status: UInt16, reason: String, headers: HeaderBlock) {
        self.status = status
        self.reason = reason
        self.headers = headers
    }

    public init(status: UInt16, reason: String, headers: [Header]) {
        self.init(status: status, reason: reason, headers: HeaderBlock(headers))
    }
}

/// Payload of `responseEnd`.
public struct ResponseEnd: Equatable, Sendable {
    public enum Outcome: Equatable, Sendable {
        /// Every byte the app produced was sent.
        case complete
        /// The app failed after the head was sent; the host must cut the
        /// connection so the client does not take a partial body as whole.
        case aborted(reason: String)
    }

    /// CPU time the handler thread spent on this request (the active-CPU meter).
    public var cpuNanos: UInt64
    /// Wall time from the request reaching the instance to the end of the response.
    public var wallNanos: UInt64
    public var outcome: Outcome

    public init(cpuNanos: UInt64, wallNanos: UInt64, outcome: Outcome = .complete) {
        self.cpuNanos = cpuNanos
        self.wallNanos = wallNanos
        self.outcome = outcome
    }
}

/// Payload of `log`.
public struct LogRecord: Equatable, Sendable {
    public enum Level: UInt8, Sendable, CaseIterable {
        case debug = 0, info = 1, warning = 2, error = 3
    }

    public var level: Level
    public var message: String

    public init(level: Level, message: String) {
        self.level = level
        self.message = message
    }
}

/// Payload of `stats`.
public struct InstanceStats: Equatable, Sendable {
    public var rssBytes: UInt64
    /// Total CPU time of the process so far.
    public var cpuNanos: UInt64
    public var inFlight: UInt32

    public init(rssBytes: UInt64, cpuNanos: UInt64, inFlight: UInt32) {
        self.rssBytes = rssBytes
        self.cpuNanos = cpuNanos
        self.inFlight = inFlight
    }
}

/// Payload of `failed`: why a template or instance could not start.
public struct StartFailure: Equatable, Sendable {
    /// Which step failed: `python-init`, `import`, `fork`, `threads`…
    public var phase: String
    /// What went wrong, for the user (a Python traceback for an import error).
    public var message: String

    public init(phase: String, message: String) {
        self.phase = phase
        self.message = message
    }
}
