import ArgumentParser
import Foundation
import Logging
import TidepoolProject

/// `tidepool build [DIR]`: everything `serve` does before it starts the host
/// (install when the manifest changed, build, bundle check), so CI or a user
/// can see a project is deployable without serving it.
struct BuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Install dependencies, run the build command and check the bundle size, without serving."
    )

    @Argument(help: "Project directory (default: the bundled examples/flask).")
    var directory: String?

    @Option(help: "Bundle size limit, e.g. 250MB or 1.5GB (default: $TIDEPOOL_MAX_BUNDLE_SIZE, else 250MB).")
    var maxBundleSize: String?

    func run() throws {
        ProcessRunner.stopChildrenWithUs()
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = ProcessInfo.processInfo.environment["TIDEPOOL_LOG_LEVEL"]
                .flatMap(Logger.Level.init(rawValue:)) ?? .info
            return handler
        }
        let project = try ProjectLocator.resolve(directory)
        let options = try ProjectLocator.preparationOptions(maxBundleSize: maxBundleSize)
        let report = try ProjectLocator.prepare(project, options: options, logger: Logger(label: "tidepool.build"))
        print("built \(project.path)")
        for step in report.steps { print("  \(step)") }
        print("ready: tidepool serve \(directory ?? project.path)")
    }
}
