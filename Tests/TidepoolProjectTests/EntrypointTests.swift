import Foundation
import Testing

@testable import TidepoolProject

@Suite("Project entrypoint detection")
struct EntrypointTests {
    @Test("the 20 conventional paths, in Vercel's order")
    func conventionalPathList() {
        let paths = EntrypointDetector.conventionalPaths
        #expect(paths.count == 20)
        #expect(paths.prefix(5) == ["app.py", "index.py", "server.py", "main.py", "wsgi.py"])
        #expect(paths.last == "api/wsgi.py")
    }

    @Test("each conventional file is found", arguments: EntrypointDetector.conventionalPaths)
    func conventionalFile(path: String) throws {
        let dir = try temporaryDirectory("entry")
        defer { try? FileManager.default.removeItem(at: dir) }
        try write([path: "from flask import Flask\n\napp = Flask(__name__)\n"], in: dir)
        let entry = try EntrypointDetector.detect(in: dir, pyproject: nil)
        let parts = path.split(separator: "/").map(String.init)
        #expect(entry.file == path)
        #expect(entry.origin == .conventionalFile)
        #expect(entry.attribute == "app")
        #expect(entry.module == String(parts.last!.dropLast(3)))
        #expect(entry.importRoot == (parts.count == 2 ? parts[0] : ""))
    }

    @Test("a package folder imports as a package, so relative imports work")
    func packageFolder() throws {
        let dir = try temporaryDirectory("entry-pkg")
        defer { try? FileManager.default.removeItem(at: dir) }
        try write(["api/__init__.py": "", "api/index.py": "from .routes import app\n"], in: dir)
        let entry = try EntrypointDetector.detect(in: dir, pyproject: nil)
        #expect(entry.importRoot == "")
        #expect(entry.module == "api.index")
        #expect(entry.attribute == "app")
    }

    @Test("src/app.py imports its siblings: src is the import root")
    func srcLayout() throws {
        let project = try Project.load(directory: fixture("src-layout"))
        #expect(project.entrypoint.file == "src/app.py")
        let target = project.appTarget(venv: nil)
        #expect(target.importRoot == fixture("src-layout").appendingPathComponent("src").standardizedFileURL.path)
        #expect(target.module == "app")
        #expect(target.projectDirectory == fixture("src-layout").standardizedFileURL.path)
        #expect(target.publicDirectory == nil)
    }

    @Test("[tool.vercel] entrypoint wins over a conventional file")
    func toolVercelEntrypoint() throws {
        let project = try Project.load(directory: fixture("tool-vercel-entrypoint"))
        #expect(project.entrypoint == Entrypoint(
            file: "backend/web.py", importRoot: "", module: "backend.web", attribute: "server", origin: .toolVercel))
    }

    @Test("[tool.vercel] entrypoint that names no file is an error, not a fallback")
    func toolVercelUnresolved() throws {
        let error = projectError { _ = try Project.load(directory: fixture("tool-vercel-unresolved")) }
        #expect(error == .unresolvedEntrypoint(
            setting: "[tool.vercel] entrypoint", value: "service.api:app",
            triedPaths: ["service/api.py", "service/api/__init__.py", "src/service/api.py", "src/service/api/__init__.py"]))
        #expect(error?.description.contains("does not resolve to a file") == true)
    }

    @Test("[tool.vercel] entrypoint accepts a file path and the src layout")
    func toolVercelForms() throws {
        let dir = try temporaryDirectory("entry-forms")
        defer { try? FileManager.default.removeItem(at: dir) }
        try write(["src/pkg/web.py": "application = object()\n"], in: dir)
        let dotted = try EntrypointDetector.detect(in: dir, pyproject: PyProject(vercelEntrypoint: "pkg.web"))
        #expect(dotted == Entrypoint(file: "src/pkg/web.py", importRoot: "src", module: "pkg.web", attribute: "application", origin: .toolVercel))
        let path = try EntrypointDetector.detect(in: dir, pyproject: PyProject(vercelEntrypoint: "./src/pkg/web.py:application"))
        #expect(path == Entrypoint(file: "src/pkg/web.py", importRoot: "", module: "src.pkg.web", attribute: "application", origin: .toolVercel))
    }

    @Test("malformed references are rejected with the reason", arguments: ["a:b:c", "1abc:app", "main:1x", ":app"])
    func malformedReference(reference: String) throws {
        let error = projectError {
            _ = try EntrypointDetector.detect(in: fixture("missing"), pyproject: PyProject(vercelEntrypoint: reference))
        }
        guard case .malformedEntrypoint(let setting, let value, _) = error else {
            Issue.record("expected malformedEntrypoint, got \(String(describing: error))")
            return
        }
        #expect(setting == "[tool.vercel] entrypoint")
        #expect(value == reference)
    }

    @Test("[project.scripts] app = \"backend.server:app\" → backend/server.py")
    func projectScripts() throws {
        let project = try Project.load(directory: fixture("scripts-app"))
        #expect(project.entrypoint == Entrypoint(
            file: "backend/server.py", importRoot: "", module: "backend.server", attribute: "app", origin: .projectScripts))
        #expect(project.appTarget(venv: nil).importRoot == fixture("scripts-app").standardizedFileURL.path)
    }

    @Test("a module-level `application` is used when there is no `app`")
    func applicationVariable() throws {
        let project = try Project.load(directory: fixture("application-var"))
        #expect(project.entrypoint.file == "wsgi.py")
        #expect(project.entrypoint.attribute == "application")
    }

    @Test("neither app nor application: the error names the file")
    func noVariable() throws {
        let dir = try temporaryDirectory("entry-novar")
        defer { try? FileManager.default.removeItem(at: dir) }
        try write(["main.py": "def create_app():\n    app = 1\n    return app\n"], in: dir)
        let error = projectError { _ = try EntrypointDetector.detect(in: dir, pyproject: nil) }
        #expect(error == .noWSGIVariable(file: "main.py"))
        #expect(error?.description.contains("main.py defines neither `app` nor `application`") == true)
    }

    @Test("several candidates: an error listing them and how to choose")
    func ambiguous() throws {
        let error = projectError { _ = try Project.load(directory: fixture("ambiguous")) }
        #expect(error == .ambiguousEntrypoint(directory: fixture("ambiguous").standardizedFileURL.path, candidates: ["app.py", "api/index.py"]))
        let text = error?.description ?? ""
        #expect(text.contains("several possible entrypoints"))
        #expect(text.contains("app.py, api/index.py"))
        #expect(text.contains("[tool.vercel]"))
        #expect(text.contains("entrypoint = \"module:attr\""))
    }

    @Test("no candidate: an error listing every place looked at")
    func missing() throws {
        let error = projectError { _ = try Project.load(directory: fixture("missing")) }
        let text = error?.description ?? ""
        #expect(text.contains("no Flask entrypoint found"))
        for path in EntrypointDetector.conventionalPaths { #expect(text.contains(path)) }
        #expect(text.contains("[project.scripts] app"))
        #expect(text.contains("entrypoint = \"module:attr\""))
    }
}
