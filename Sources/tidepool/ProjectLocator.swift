import ArgumentParser
import Foundation
import Logging
import TidepoolCore
import TidepoolProject

/// Why no project directory could be found (the project's own problems are
/// `TidepoolProject.ProjectError`).
enum ProjectLocatorError: Error, CustomStringConvertible {
    case notADirectory(String)
    case noDefaultProject

    var description: String {
        switch self {
        case .notADirectory(let path):
            "\(path) is not a directory"
        case .noDefaultProject:
            "no project directory given and the bundled examples/flask was not found; pass DIR (or create one: tidepool init flask DIR)"
        }
    }
}

/// Finds the project directory; what is inside it (entrypoint, dependencies,
/// build) is `TidepoolProject`'s business.
enum ProjectLocator {
    /// This binary, re-executed for the template and spawned instances.
    static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    static func resolve(_ directory: String?) throws -> URL {
        if let directory {
            let url = URL(fileURLWithPath: directory).standardizedFileURL
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ProjectLocatorError.notADirectory(directory)
            }
            return url
        }
        // The bundled example: next to the working directory, or next to the
        // checkout this binary was built in (.build/release/tidepool).
        let binary = URL(fileURLWithPath: executablePath)
        let candidates = [
            URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("examples/flask"),
            binary.deletingLastPathComponent().appendingPathComponent("../../../examples/flask").standardizedFileURL,
            binary.deletingLastPathComponent().appendingPathComponent("../../examples/flask").standardizedFileURL,
        ]
        for candidate in candidates where FileManager.default.fileExists(atPath: candidate.appendingPathComponent("main.py").path) {
            return candidate
        }
        throw ProjectLocatorError.noDefaultProject
    }

    /// Loads the project, logs its vercel.json warnings once, then installs,
    /// builds and checks the bundle: the one preparation `build` and `serve` share.
    static func prepare(_ directory: URL, options: PrepareOptions, logger: Logger) throws -> PreparationReport {
        try ProjectPreparer.prepare(load(directory, logger: logger), options: options, logger: logger)
    }

    /// Reads the project (vercel.json errors stop here) and logs its warnings once.
    static func load(_ directory: URL, logger: Logger) throws -> Project {
        let project = try Project.load(directory: directory)
        for warning in project.warnings { logger.warning("\(warning)") }
        return project
    }

    /// `serve`'s preparation: default options, build skipped on request. The
    /// router carries vercel.json's routing rules to the front; `function` is
    /// the entrypoint's vercel.json `functions` settings for the scheduler.
    static func prepareForServe(
        _ directory: URL, skipBuild: Bool
    ) throws -> (app: AppTarget, router: Router, function: FunctionRule?) {
        var options = try preparationOptions(maxBundleSize: nil)
        options.runBuild = !skipBuild
        let logger = Logger(label: "tidepool.project")
        let project = try load(directory, logger: logger)
        let report = try ProjectPreparer.prepare(project, options: options, logger: logger)
        let router = Router(config: project.vercel ?? VercelConfig(), entrypointFile: project.entrypoint.file)
        return (report.appTarget, router, project.functionSettings)
    }

    /// The bundle limit from `--max-bundle-size`, else `$TIDEPOOL_MAX_BUNDLE_SIZE`, else 250 MB.
    static func preparationOptions(maxBundleSize: String?) throws -> PrepareOptions {
        var options = PrepareOptions()
        if let text = maxBundleSize ?? ProcessInfo.processInfo.environment["TIDEPOOL_MAX_BUNDLE_SIZE"] {
            guard let bytes = ByteCount.parse(text), bytes > 0 else {
                throw ValidationError("max bundle size `\(text)` is not a size like 250MB, 1.5GB or 1048576")
            }
            options.maxBundleBytes = bytes
        }
        return options
    }
}
