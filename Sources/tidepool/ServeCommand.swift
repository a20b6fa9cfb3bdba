import ArgumentParser
import Foundation
import Logging
import TidepoolCore
import TidepoolFront

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
    @Option(help: "Number of instances in the pool.") var instances: Int?
    @Option(help: "Handler threads per instance (requests one instance runs at once).") var threads: Int?
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
        var configuration = Configuration()
        if let config {
            try ConfigFile.load(path: config, into: &configuration)
        }
        if let adminPort { configuration.adminPort = adminPort }
        if let adminHost { configuration.adminHost = adminHost }
        if let logFormat { configuration.logFormat = logFormat }
        // Nothing logs before this point (config errors reach the user through ArgumentParser).
        let json = configuration.logFormat == .json
        let level = ProcessInfo.processInfo.environment["TIDEPOOL_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        LoggingSystem.bootstrap { label in
            if json { return JSONLogHandler(label: label, logLevel: level) }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        if let host { configuration.host = host }
        if let port { configuration.port = port }
        if let instances { configuration.instances = instances }
        if let threads { configuration.threads = threads }
        if let start { configuration.start = start }
        try ConfigFile.validate(configuration)

        let project = try ProjectLocator.resolve(directory)
        let app = try ProjectLocator.prepareForServe(project, skipBuild: skipBuild)
        let status = Host.run(configuration: configuration, app: app, executable: ProjectLocator.executablePath)
        throw ExitCode(status)
    }
}

extension Configuration.StartMode: ExpressibleByArgument {}
extension Configuration.LogFormat: ExpressibleByArgument {}
