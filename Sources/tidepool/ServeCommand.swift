import ArgumentParser
import Foundation
import Logging
import TidepoolCore
import TidepoolFront
import TidepoolProject

/// `tidepool serve [DIR]`: prepare the project (install, build, bundle check), then serve it.
struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a Flask (WSGI) project through the front proxy and a pool of instances."
    )

    @Argument(help: "Project directory (default: the bundled examples/flask).")
    var directory: String?

    @Option(help: "Address to listen on.") var host: String?
    @Option(help: "Port to listen on.") var port: Int?
    @Option(help: "TOML configuration file (see config/tidepool.toml).") var config: String?
    @Option(help: "Pin the pool at N instances (minInstances = maxInstances = N).") var instances: Int?
    @Option(help: "Same as --max-concurrency (kept for compatibility).") var threads: Int?
    @Option(help: "fluid (many requests per instance, default) or classic (one request per instance).")
    var mode: SchedulerConfig.Mode?
    @Option(help: "Instances kept running when idle (default 1).") var minInstances: Int?
    @Option(help: "Most instances at once (default: machine memory / instanceMemoryMB).") var maxInstances: Int?
    @Option(help: "Requests one instance runs at once in fluid mode (default 32).") var maxConcurrency: Int?
    @Option(help: "Seconds an unused instance lives before it drains and stops (default 60).") var idleTimeout: Double?
    @Option(help: "Idle warm instances kept ahead of demand (default 0).") var spareInstances: Int?
    @Option(help: "Requests that may wait for a slot; more get 503 (default 1000).") var queueDepth: Int?
    @Option(help: "Seconds a request may wait for a slot before 503 (default 10).") var queueTimeout: Double?
    @Option(help: "Seconds a request may run before 504 (default 300).") var maxDuration: Double?
    @Option(help: "How instances start: fork (from a template) or spawn (fresh process).")
    var start: Configuration.StartMode?
    @Option(help: "Serve /_tidepool/ (metrics, status, live page) on this port instead of the main one.")
    var adminPort: Int?
    @Option(help: "Address of the admin listener (default 127.0.0.1).") var adminHost: String?
    @Option(help: "Log format: text or json (one JSON object per line).")
    var logFormat: Configuration.LogFormat?
    @Flag(help: "Do not run the build command (dependencies are still installed and the bundle checked).")
    var skipBuild = false

    func run() throws {
        try serve(dev: false)
    }

    /// Prepares and serves the project. SIGHUP redeploys it (prepare again,
    /// new template and instances, old ones drained); `dev` also watches its
    /// files and redeploys on change.
    func serve(dev: Bool) throws {
        ProcessRunner.stopChildrenWithUs()
        var configuration = Configuration()
        var explicit: Set<String> = []
        if let config {
            explicit = try ConfigFile.load(path: config, into: &configuration)
        }
        if let adminPort { configuration.adminPort = adminPort }
        if let adminHost { configuration.adminHost = adminHost }
        if let logFormat { configuration.logFormat = logFormat }
        // Nothing logs before this point (config errors reach the user through ArgumentParser).
        let json = configuration.logFormat == .json
        let level = ProcessInfo.processInfo.environment["TIDEPOOL_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        // The access log is formatted by the host itself (AccessLog), in the
        // same shape as these handlers, and batched; they flush it first.
        LoggingSystem.bootstrap { label in
            if json { return FlushingLogHandler(base: JSONLogHandler(label: label, logLevel: level)) }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return FlushingLogHandler(base: handler)
        }
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        if let start { configuration.start = start }
        explicit.formUnion(try applySchedulerFlags(to: &configuration.scheduler))
        try ConfigFile.validate(configuration)

        let project = try ProjectLocator.resolve(directory)
        let prepared = try ProjectLocator.prepareForServe(project, skipBuild: skipBuild)
        if let function = prepared.function {
            SchedulerSettings.apply(function, to: &configuration.scheduler, except: explicit)
            try ConfigFile.validate(configuration)
        }
        let skipBuild = skipBuild
        let reloading = Reloading(
            prepare: {
                let next = try ProjectLocator.prepareForServe(project, skipBuild: skipBuild)
                return (next.app, next.router)
            },
            watchDirectory: dev ? project.path : nil)
        let status = Host.run(
            configuration: configuration, app: prepared.app, executable: ProjectLocator.executablePath,
            router: prepared.router, reloading: reloading)
        throw ExitCode(status)
    }
}

extension ServeCommand {
    /// The scheduler flags over the file's values; returns the keys they set.
    private func applySchedulerFlags(to c: inout SchedulerConfig) throws -> Set<String> {
        var set: Set<String> = []
        func seconds(_ value: Double, _ key: String) throws -> Duration {
            guard value.isFinite, value >= 0, value < 1e9 else {
                throw ConfigError.outOfRange(key: key, value: "\(value)", allowed: "0 or more seconds")
            }
            set.insert(key)
            return .milliseconds(Int64((value * 1000).rounded()))
        }
        if let instances {
            guard instances >= 1 else { throw ConfigError.outOfRange(key: "instances", value: "\(instances)", allowed: ">= 1") }
            c.minInstances = instances
            c.maxInstances = instances
            set.formUnion(["minInstances", "maxInstances"])
        }
        if let threads { c.maxConcurrency = threads; set.insert("threads") }
        if let mode { c.mode = mode; set.insert("mode") }
        if let minInstances { c.minInstances = minInstances; set.insert("minInstances") }
        if let maxInstances { c.maxInstances = maxInstances; set.insert("maxInstances") }
        if let maxConcurrency { c.maxConcurrency = maxConcurrency; set.insert("maxConcurrency") }
        if let spareInstances { c.spareInstances = spareInstances; set.insert("spareInstances") }
        if let queueDepth { c.queueDepth = queueDepth; set.insert("queueDepth") }
        if let idleTimeout { c.idleTimeout = try seconds(idleTimeout, "idleTimeout") }
        if let queueTimeout { c.queueTimeout = try seconds(queueTimeout, "queueTimeout") }
        if let maxDuration { c.maxDuration = try seconds(maxDuration, "maxDuration") }
        return set
    }
}

extension Configuration.StartMode: ExpressibleByArgument {}
extension Configuration.LogFormat: ExpressibleByArgument {}
extension SchedulerConfig.Mode: ExpressibleByArgument {}
