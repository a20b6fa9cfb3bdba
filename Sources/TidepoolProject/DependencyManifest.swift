import Foundation

/// Where a project lists its dependencies, in Vercel's order of preference.
public enum DependencyManifest: Equatable, Sendable, CustomStringConvertible {
    /// `requirements.txt` at the project root (wins when both exist, as on Vercel).
    case requirements
    /// `[project] dependencies` in pyproject.toml.
    case pyproject(dependencies: [String])

    public static func detect(in directory: URL, pyproject: PyProject?) -> DependencyManifest? {
        if FileManager.default.fileExists(atPath: directory.appendingPathComponent("requirements.txt").path) {
            return .requirements
        }
        if let dependencies = pyproject?.dependencies { return .pyproject(dependencies: dependencies) }
        return nil
    }

    public var description: String {
        switch self {
        case .requirements: "requirements.txt"
        case .pyproject: "pyproject.toml [project] dependencies"
        }
    }

    /// What identifies an install: the manifest's kind and content. For
    /// pyproject only the dependency list counts, so editing a build script
    /// does not reinstall everything.
    func fingerprint(in directory: URL) throws -> String {
        switch self {
        case .requirements:
            let data = try Data(contentsOf: directory.appendingPathComponent("requirements.txt"))
            return SHA256.hex(Array("requirements.txt\n".utf8) + Array(data))
        case .pyproject(let dependencies):
            return SHA256.hex(Array(("pyproject\n" + dependencies.joined(separator: "\n")).utf8))
        }
    }

    /// `pip install` arguments after `install`; nil when there is nothing to install.
    var pipArguments: [String]? {
        switch self {
        case .requirements: ["-r", "requirements.txt"]
        case .pyproject(let dependencies): dependencies.isEmpty ? nil : dependencies
        }
    }
}
