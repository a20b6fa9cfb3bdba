import Foundation
import TidepoolCore

/// A project directory read the way Vercel reads it: pyproject.toml,
/// vercel.json and the entrypoint, all resolved once, with no side effects
/// (nothing is installed or built here; see `ProjectPreparer`).
public struct Project: Sendable {
    /// Absolute, standardised project directory.
    public let directory: URL
    public let pyproject: PyProject?
    public let vercel: VercelConfig?
    /// vercel.json keys that were ignored; log them once.
    public let warnings: [String]
    public let entrypoint: Entrypoint

    /// Reads and validates everything; throws `ProjectError` with what to fix.
    public static func load(directory: URL) throws -> Project {
        let directory = directory.standardizedFileURL
        let pyproject = try PyProject.load(directory: directory)
        let vercel = try VercelConfig.load(directory: directory)
        let entrypoint = try EntrypointDetector.detect(in: directory, pyproject: pyproject)
        return Project(
            directory: directory, pyproject: pyproject, vercel: vercel?.config,
            warnings: vercel?.warnings ?? [], entrypoint: entrypoint)
    }

    public var dependencyManifest: DependencyManifest? {
        DependencyManifest.detect(in: directory, pyproject: pyproject)
    }

    public var buildStep: BuildStep? {
        BuildStep.resolve(vercel: vercel, pyproject: pyproject)
    }

    /// `public/`, when the project has one.
    public var publicDirectory: URL? {
        let url = directory.appendingPathComponent("public")
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && isDirectory.boolValue ? url : nil
    }

    /// `functions` settings that apply to the entrypoint, if any.
    public var functionSettings: FunctionRule? {
        vercel?.functionSettings(for: entrypoint.file)
    }

    /// What the host needs to start instances: absolute paths and the module/attribute.
    public func appTarget(venv: URL?) -> AppTarget {
        let importRoot = entrypoint.importRoot.isEmpty ? directory : directory.appendingPathComponent(entrypoint.importRoot)
        return AppTarget(
            projectDirectory: directory.path, importRoot: importRoot.path, module: entrypoint.module,
            attribute: entrypoint.attribute, venv: venv?.path, publicDirectory: publicDirectory?.path)
    }
}
