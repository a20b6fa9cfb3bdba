/// Why a project cannot be prepared or served. Every message says what was
/// wrong *and* what to change, because the person reading it is deploying an
/// app, not debugging Tidepool (the model is swift-argument-parser's
/// `ParserError`: one case per situation, the message built from its payload).
public enum ProjectError: Error, Equatable, Sendable, CustomStringConvertible {
    // MARK: Entrypoint
    /// None of the conventional files exist and nothing in `pyproject.toml` names one.
    case noEntrypoint(directory: String, lookedFor: [String])
    /// More than one conventional file exists: which one is the app is a guess we refuse to make.
    case ambiguousEntrypoint(directory: String, candidates: [String])
    /// `[tool.vercel] entrypoint` or `[project.scripts] app` names a module with no file.
    case unresolvedEntrypoint(setting: String, value: String, triedPaths: [String])
    /// A `module:attr` reference that cannot be parsed.
    case malformedEntrypoint(setting: String, value: String, reason: String)
    /// The entrypoint file binds neither `app` nor `application` at top level.
    case noWSGIVariable(file: String)
    /// The entrypoint file cannot be read (permissions, not UTF-8).
    case unreadableEntrypoint(file: String, reason: String)

    // MARK: Manifests
    /// `pyproject.toml` is not valid TOML or has a key of the wrong type.
    case invalidPyProject(file: String, reason: String)
    /// `vercel.json` is not valid JSON, or a value has the wrong type or shape.
    case invalidVercelConfig(file: String, path: String, reason: String)

    // MARK: Dependencies
    /// The system Python that Tidepool embeds is missing or unusable.
    case systemPythonUnavailable(path: String, reason: String)
    /// `python -m venv` failed.
    case venvCreationFailed(path: String, status: Int32, output: String)
    /// `pip install` failed; `output` is pip's own account of why.
    case dependencyInstallFailed(manifest: String, status: Int32, output: String)
    /// No manifest, and Flask is not importable by the system Python.
    case flaskNotAvailable(directory: String, python: String)

    // MARK: Build
    /// The build command exited non-zero.
    case buildFailed(command: String, status: Int32, lastLines: [String])
    /// The build command could not be started at all.
    case buildNotStarted(command: String, reason: String)

    // MARK: Bundle
    /// The function bundle is larger than the configured limit.
    case bundleTooLarge(total: Int64, limit: Int64, largest: [BundleContributor])

    public var description: String {
        switch self {
        case .noEntrypoint(let directory, let lookedFor):
            return """
                no Flask entrypoint found in \(directory)
                looked for: \(lookedFor.joined(separator: ", "))
                fix: add one of those files, or name the app in pyproject.toml:
                  [tool.vercel]
                  entrypoint = "module:attr"   # e.g. "main:app"
                """
        case .ambiguousEntrypoint(let directory, let candidates):
            return """
                several possible entrypoints in \(directory): \(candidates.joined(separator: ", "))
                fix: choose one in pyproject.toml:
                  [tool.vercel]
                  entrypoint = "module:attr"   # e.g. "\(Self.moduleHint(candidates.first ?? "main.py")):app"
                """
        case .unresolvedEntrypoint(let setting, let value, let tried):
            return """
                \(setting) = "\(value)" does not resolve to a file; tried: \(tried.joined(separator: ", "))
                fix: point it at an existing module, e.g. "backend.server:app" for backend/server.py
                """
        case .malformedEntrypoint(let setting, let value, let reason):
            return "\(setting) = \"\(value)\" is not a valid \"module:attr\" reference: \(reason)"
        case .noWSGIVariable(let file):
            return """
                \(file) defines neither `app` nor `application` at top level
                fix: bind the WSGI app to a module-level variable (`app = Flask(__name__)`), \
                or name it explicitly with [tool.vercel] entrypoint = "module:attr" in pyproject.toml
                """
        case .unreadableEntrypoint(let file, let reason):
            return "cannot read entrypoint \(file): \(reason)"
        case .invalidPyProject(let file, let reason):
            return "\(file) is invalid: \(reason)"
        case .invalidVercelConfig(let file, let path, let reason):
            return path.isEmpty ? "\(file) is invalid: \(reason)" : "\(file): `\(path)` \(reason)"
        case .systemPythonUnavailable(let path, let reason):
            return """
                the system Python \(path) (whose libpython Tidepool embeds) is unusable: \(reason)
                fix: apt-get install -y python3 python3-venv libpython3-dev
                """
        case .venvCreationFailed(let path, let status, let output):
            return """
                creating the virtualenv \(path) failed (exit \(status)):
                \(output)
                fix: apt-get install -y python3-venv, then retry
                """
        case .dependencyInstallFailed(let manifest, let status, let output):
            return """
                installing the dependencies from \(manifest) failed (pip exit \(status)):
                \(output)
                fix: correct \(manifest) (see pip's message above), then retry
                """
        case .flaskNotAvailable(let directory, let python):
            return """
                \(directory) has no requirements.txt and no [project] dependencies in pyproject.toml, \
                and Flask is not importable by \(python)
                fix: add a requirements.txt containing `flask` (or list it in pyproject.toml [project] dependencies)
                """
        case .buildFailed(let command, let status, let lastLines):
            let tail = lastLines.isEmpty ? "(no output)" : lastLines.map { "  " + $0 }.joined(separator: "\n")
            return """
                build command `\(command)` failed with exit code \(status); last lines of its output:
                \(tail)
                """
        case .buildNotStarted(let command, let reason):
            return "build command `\(command)` could not be started: \(reason)"
        case .bundleTooLarge(let total, let limit, let largest):
            let lines = largest.map { "  " + $0.description }.joined(separator: "\n")
            return """
                the function bundle is \(ByteCount.format(total)), over the \(ByteCount.format(limit)) limit
                largest contributors:
                \(lines)
                fix: move large files to public/ (served statically, not bundled), drop unused \
                dependencies, or raise the limit
                """
        }
    }

    /// `src/app.py` → `app`, `backend/server.py` → `backend.server`: a plausible
    /// module name for the hint in the ambiguity message.
    private static func moduleHint(_ file: String) -> String {
        var path = file
        if path.hasSuffix(".py") { path.removeLast(3) }
        if path.hasPrefix("src/") { path.removeFirst(4) }
        return path.split(separator: "/").joined(separator: ".")
    }
}
