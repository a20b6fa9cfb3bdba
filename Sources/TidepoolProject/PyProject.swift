import Foundation
import TOMLKit

/// The parts of `pyproject.toml` that Vercel's Python runtime reads, and
/// nothing else: the rest of the file belongs to the user's tools.
public struct PyProject: Equatable, Sendable {
    /// `[project] dependencies`, or nil when the key is absent (an empty list
    /// is a deliberate "no dependencies" and still counts as a manifest).
    public var dependencies: [String]?
    /// `[project.scripts]`: Vercel reads `app = "module:attr"` as an entrypoint.
    public var scripts: [String: String]
    /// `[tool.vercel] entrypoint = "module:attr"`: the explicit choice, first in the detection order.
    public var vercelEntrypoint: String?
    /// `[tool.vercel.scripts] build`: the build command when vercel.json has none.
    public var vercelBuildScript: String?

    public init(
        dependencies: [String]? = nil, scripts: [String: String] = [:],
        vercelEntrypoint: String? = nil, vercelBuildScript: String? = nil
    ) {
        self.dependencies = dependencies
        self.scripts = scripts
        self.vercelEntrypoint = vercelEntrypoint
        self.vercelBuildScript = vercelBuildScript
    }

    /// The file name, for messages.
    public static let fileName = "pyproject.toml"

    /// Reads `<directory>/pyproject.toml`; nil when there is none.
    public static func load(directory: URL) throws -> PyProject? {
        let file = directory.appendingPathComponent(fileName)
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        let text: String
        do {
            text = try String(contentsOf: file, encoding: .utf8)
        } catch {
            throw ProjectError.invalidPyProject(file: fileName, reason: "cannot be read as UTF-8: \(error.localizedDescription)")
        }
        return try parse(text)
    }

    /// Parses the text of a `pyproject.toml`. Wrong types on the keys we read
    /// are errors (they would silently change which app runs); other keys are ignored.
    public static func parse(_ text: String) throws -> PyProject {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ProjectError.invalidPyProject(
                file: fileName,
                reason: "not valid TOML at line \(error.source.begin.line), column \(error.source.begin.column): \(error.description)"
            )
        } catch {
            throw ProjectError.invalidPyProject(file: fileName, reason: "not valid TOML: \(error)")
        }
        var result = PyProject()
        if let project = try subtable(table, "project", path: "project") {
            if let deps = project["dependencies"] {
                guard let array = deps.array else { throw wrongType("project.dependencies", "an array of strings") }
                result.dependencies = try array.enumerated().map { index, item in
                    guard let s = item.string else { throw wrongType("project.dependencies[\(index)]", "a string") }
                    return s
                }
            }
            if let scripts = try subtable(project, "scripts", path: "project.scripts") {
                for key in scripts.keys {
                    guard let s = scripts[key]?.string else { throw wrongType("project.scripts.\(key)", "a string") }
                    result.scripts[key] = s
                }
            }
        }
        if let tool = try subtable(table, "tool", path: "tool"), let vercel = try subtable(tool, "vercel", path: "tool.vercel") {
            if let entrypoint = vercel["entrypoint"] {
                guard let s = entrypoint.string else { throw wrongType("tool.vercel.entrypoint", "a string") }
                result.vercelEntrypoint = s
            }
            if let scripts = try subtable(vercel, "scripts", path: "tool.vercel.scripts"), let build = scripts["build"] {
                guard let s = build.string else { throw wrongType("tool.vercel.scripts.build", "a string") }
                result.vercelBuildScript = s
            }
        }
        return result
    }

    private static func subtable(_ table: TOMLTable, _ key: String, path: String) throws -> TOMLTable? {
        guard let value = table[key] else { return nil }
        guard let sub = value.table else { throw wrongType(path, "a table") }
        return sub
    }

    private static func wrongType(_ path: String, _ expected: String) -> ProjectError {
        .invalidPyProject(file: fileName, reason: "`\(path)` must be \(expected)")
    }
}
