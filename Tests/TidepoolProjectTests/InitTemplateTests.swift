import Foundation
import Testing

@testable import TidepoolProject

@Suite("tidepool init")
struct InitTemplateTests {
    @Test("the flask template: Vercel's shape, no load-test routes")
    func contents() throws {
        let template = try InitTemplate.named("flask")
        let paths = template.files.map(\.path)
        #expect(paths == [".gitignore", "main.py", "public/favicon.ico", "pyproject.toml", "templates/index.html"])
        let main = String(decoding: try #require(template.files.first { $0.path == "main.py" }).contents.bytes, as: UTF8.self)
        #expect(main.contains("def create_app()"))
        #expect(main.contains("register_blueprint(api)"))
        #expect(main.contains("\napp = create_app()\n"))
        #expect(!main.contains("loadtest"))
        let icon = try #require(template.files.first { $0.path == "public/favicon.ico" }).contents.bytes
        #expect(icon.count > 1000)
        #expect(Array(icon.prefix(4)) == [0, 0, 1, 0])
    }

    @Test("unknown template names the available ones")
    func unknown() {
        #expect(throws: InitError.unknownTemplate(name: "django", available: ["flask"])) { try InitTemplate.named("django") }
    }

    @Test("writes a project that Tidepool detects, refuses a non-empty directory, --force overwrites")
    func write() throws {
        let parent = try temporaryDirectory("init")
        defer { try? FileManager.default.removeItem(at: parent) }
        let dir = parent.appendingPathComponent("myapp")
        let template = try InitTemplate.named("flask")
        let written = try template.write(to: dir, force: false)
        #expect(written.count == template.files.count)
        let project = try Project.load(directory: dir)
        #expect(project.entrypoint == Entrypoint(file: "main.py", importRoot: "", module: "main", attribute: "app", origin: .conventionalFile))
        #expect(project.dependencyManifest == .pyproject(dependencies: ["flask>=3"]))
        #expect(project.publicDirectory != nil)

        try Data("changed".utf8).write(to: dir.appendingPathComponent("main.py"))
        try Data("mine".utf8).write(to: dir.appendingPathComponent("notes.txt"))
        #expect {
            try template.write(to: dir, force: false)
        } throws: { error in
            guard case InitError.directoryNotEmpty(let path, let entries) = error else { return false }
            return path == dir.path && entries.contains("notes.txt") && "\(error)".contains("--force")
        }
        #expect(try String(contentsOf: dir.appendingPathComponent("main.py"), encoding: .utf8) == "changed")

        try template.write(to: dir, force: true)
        #expect(try String(contentsOf: dir.appendingPathComponent("main.py"), encoding: .utf8).contains("create_app"))
        #expect(try String(contentsOf: dir.appendingPathComponent("notes.txt"), encoding: .utf8) == "mine")
    }

    @Test("an empty existing directory is fine; a file is not")
    func edges() throws {
        let parent = try temporaryDirectory("init-edges")
        defer { try? FileManager.default.removeItem(at: parent) }
        let template = try InitTemplate.named("flask")
        try template.write(to: parent, force: false)
        let file = parent.appendingPathComponent("main.py")
        #expect(throws: InitError.notADirectory(path: file.path)) { try template.write(to: file, force: true) }
    }
}
