import Foundation
import TidepoolCore

/// Why a project cannot be served, with what to change.
enum ProjectError: Error, CustomStringConvertible {
    case notADirectory(String)
    case noEntrypoint(directory: String, lookedFor: [String])
    case noDefaultProject

    var description: String {
        switch self {
        case .notADirectory(let path):
            "\(path) is not a directory"
        case .noEntrypoint(let directory, let lookedFor):
            "no entrypoint in \(directory); looked for: \(lookedFor.joined(separator: ", "))"
        case .noDefaultProject:
            "no project directory given and the bundled examples/flask was not found; pass DIR"
        }
    }
}

/// Finds the project and its WSGI entrypoint. (Vercel's full detection order —
/// pyproject entrypoints and scripts — belongs to the project-conventions work.)
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
                throw ProjectError.notADirectory(directory)
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
        throw ProjectError.noDefaultProject
    }

    static func appTarget(in project: URL) throws -> AppTarget {
        let names = ["app", "index", "server", "main", "wsgi"]
        let folders = ["", "src", "app", "api"]
        var lookedFor: [String] = []
        for folder in folders {
            for name in names {
                let relative = folder.isEmpty ? "\(name).py" : "\(folder)/\(name).py"
                lookedFor.append(relative)
                let file = project.appendingPathComponent(relative)
                guard let source = try? String(contentsOf: file, encoding: .utf8) else { continue }
                let attribute = source.contains("application =") && !source.contains("app =") ? "application" : "app"
                let importRoot = folder.isEmpty ? project : project.appendingPathComponent(folder)
                let venv = project.appendingPathComponent(".venv")
                let publicDirectory = project.appendingPathComponent("public")
                return AppTarget(
                    projectDirectory: project.path,
                    importRoot: importRoot.path,
                    module: name,
                    attribute: attribute,
                    venv: FileManager.default.fileExists(atPath: venv.appendingPathComponent("pyvenv.cfg").path) ? venv.path : nil,
                    publicDirectory: FileManager.default.fileExists(atPath: publicDirectory.path) ? publicDirectory.path : nil
                )
            }
        }
        throw ProjectError.noEntrypoint(directory: project.path, lookedFor: lookedFor)
    }
}
