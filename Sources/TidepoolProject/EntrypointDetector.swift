import Foundation

/// Finds the WSGI app the way Vercel's Python runtime does, in this order:
///
/// 1. `[tool.vercel] entrypoint = "module:attr"` in pyproject.toml (an error when
///    it names no file: an explicit choice must not fall back silently);
/// 2. exactly one of `{app,index,server,main,wsgi}.py` at the root or in `src/`,
///    `app/`, `api/` (the nine app/index/server × root/src/app paths Vercel
///    documents for Flask, plus main, wsgi and api/ that its CLI also accepts);
/// 3. `[project.scripts] app = "module:attr"` (`backend.server:app` → `backend/server.py`).
///
/// The attribute is the configured one, else `app`, else `application`.
public enum EntrypointDetector {
    /// File stems Vercel accepts, in its order.
    public static let fileNames = ["app", "index", "server", "main", "wsgi"]
    /// Folders searched, "" being the project root.
    public static let folders = ["", "src", "app", "api"]

    /// The 20 conventional paths, root first (`app.py`, …, `api/wsgi.py`).
    public static var conventionalPaths: [String] {
        folders.flatMap { folder in fileNames.map { folder.isEmpty ? "\($0).py" : "\(folder)/\($0).py" } }
    }

    public static func detect(in directory: URL, pyproject: PyProject?) throws -> Entrypoint {
        if let reference = pyproject?.vercelEntrypoint {
            return try resolve(reference, setting: "[tool.vercel] entrypoint", origin: .toolVercel, in: directory)
        }
        let found = conventionalPaths.filter { isFile(directory.appendingPathComponent($0)) }
        if found.count > 1 {
            throw ProjectError.ambiguousEntrypoint(directory: directory.path, candidates: found)
        }
        if let file = found.first {
            let parts = file.split(separator: "/").map(String.init)
            let stem = String(parts.last!.dropLast(3))
            var importRoot = parts.count > 1 ? parts[0] : ""
            var module = stem
            // A folder that is a package imports as one, so its relative imports work;
            // a plain folder goes on sys.path itself, so `import sibling` works.
            if !importRoot.isEmpty, isFile(directory.appendingPathComponent(importRoot).appendingPathComponent("__init__.py")) {
                module = "\(importRoot).\(stem)"
                importRoot = ""
            }
            let attribute = try wsgiVariable(file: file, in: directory)
            return Entrypoint(file: file, importRoot: importRoot, module: module, attribute: attribute, origin: .conventionalFile)
        }
        if let reference = pyproject?.scripts["app"] {
            return try resolve(reference, setting: "[project.scripts] app", origin: .projectScripts, in: directory)
        }
        throw ProjectError.noEntrypoint(
            directory: directory.path,
            lookedFor: conventionalPaths + ["[tool.vercel] entrypoint and [project.scripts] app in pyproject.toml"]
        )
    }

    /// Resolves `module:attr` (or `module`, or `path/to/file.py[:attr]`) against
    /// the project root, then against `src/` (the src layout).
    static func resolve(_ reference: String, setting: String, origin: Entrypoint.Origin, in directory: URL) throws -> Entrypoint {
        let (module, attribute) = try parseReference(reference, setting: setting)
        let relative = module.split(separator: ".").joined(separator: "/")
        var tried: [String] = []
        for root in ["", "src"] {
            let prefix = root.isEmpty ? "" : root + "/"
            for file in ["\(prefix)\(relative).py", "\(prefix)\(relative)/__init__.py"] {
                tried.append(file)
                guard isFile(directory.appendingPathComponent(file)) else { continue }
                let name = try attribute ?? wsgiVariable(file: file, in: directory)
                return Entrypoint(file: file, importRoot: root, module: module, attribute: name, origin: origin)
            }
        }
        throw ProjectError.unresolvedEntrypoint(setting: setting, value: reference, triedPaths: tried)
    }

    /// Splits and validates a reference; a file path form (`backend/server.py`)
    /// becomes the dotted module it imports as (`backend.server`).
    static func parseReference(_ reference: String, setting: String) throws -> (module: String, attribute: String?) {
        let pieces = reference.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard pieces.count <= 2 else {
            throw ProjectError.malformedEntrypoint(setting: setting, value: reference, reason: "more than one `:`")
        }
        var module = pieces[0].trimmingCharacters(in: .whitespaces)
        if module.hasPrefix("./") { module.removeFirst(2) }
        if module.hasSuffix(".py") { module.removeLast(3) }
        module = module.split(separator: "/").joined(separator: ".")
        guard !module.isEmpty, module.split(separator: ".", omittingEmptySubsequences: false).allSatisfy(isIdentifier) else {
            throw ProjectError.malformedEntrypoint(
                setting: setting, value: reference, reason: "`\(pieces[0])` is not a module name like `backend.server`")
        }
        guard pieces.count == 2 else { return (module, nil) }
        let attribute = pieces[1].trimmingCharacters(in: .whitespaces)
        guard isIdentifier(Substring(attribute)) else {
            throw ProjectError.malformedEntrypoint(
                setting: setting, value: reference, reason: "`\(attribute)` after `:` is not a Python variable name")
        }
        return (module, attribute)
    }

    /// `app`, else `application`, read from the file's top-level bindings.
    static func wsgiVariable(file: String, in directory: URL) throws -> String {
        let source: String
        do {
            source = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
        } catch {
            throw ProjectError.unreadableEntrypoint(file: file, reason: error.localizedDescription)
        }
        guard let name = WSGIVariableScanner.wsgiVariable(in: source) else {
            throw ProjectError.noWSGIVariable(file: file)
        }
        return name
    }

    private static func isIdentifier(_ s: Substring) -> Bool {
        guard let first = s.first, first == "_" || first.isLetter else { return false }
        return s.allSatisfy { $0 == "_" || $0.isLetter || $0.isNumber }
    }

    static func isFile(_ url: URL) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) && !isDirectory.boolValue
    }
}
