import Foundation
import Testing

@testable import TidepoolProject

@Suite("Build command")
struct BuildTests {
    @Test("vercel.json buildCommand wins over [tool.vercel.scripts] build, and runs in the project")
    func precedence() throws {
        let project = try Project.load(directory: try copyOfFixture("build-precedence"))
        defer { try? FileManager.default.removeItem(at: project.directory.deletingLastPathComponent()) }
        let step = try #require(project.buildStep)
        #expect(step == BuildStep(command: "echo from-vercel > build.txt", origin: .vercelJSON))
        try BuildRunner.run(step, in: project.directory, venv: nil, echo: false)
        let output = try String(contentsOf: project.directory.appendingPathComponent("build.txt"), encoding: .utf8)
        #expect(output == "from-vercel\n")
    }

    @Test("[tool.vercel.scripts] build is used without vercel.json; an empty buildCommand disables it")
    func pyprojectOnly() throws {
        let project = try Project.load(directory: fixture("build-pyproject-only"))
        #expect(project.buildStep == BuildStep(command: "python3 build.py", origin: .pyproject))
        var vercel = VercelConfig()
        vercel.buildCommand = ""
        #expect(BuildStep.resolve(vercel: vercel, pyproject: project.pyproject) == nil)
        #expect(BuildStep.resolve(vercel: nil, pyproject: nil) == nil)
    }

    @Test("the venv's bin comes first on PATH, with VIRTUAL_ENV set")
    func venvOnPath() throws {
        let dir = try temporaryDirectory("build-venv")
        defer { try? FileManager.default.removeItem(at: dir) }
        let venv = dir.appendingPathComponent("fake-venv")
        try write(["fake-venv/bin/python": "#!/bin/sh\necho \"venv python $VIRTUAL_ENV\" > out.txt\n"], in: dir)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: venv.appendingPathComponent("bin/python").path)
        try BuildRunner.run(BuildStep(command: "python build.py", origin: .pyproject), in: dir, venv: venv, echo: false)
        let out = try String(contentsOf: dir.appendingPathComponent("out.txt"), encoding: .utf8)
        #expect(out == "venv python \(venv.path)\n")
    }

    @Test("a failing build carries its exit code and last 20 lines")
    func failing() throws {
        let project = try Project.load(directory: fixture("build-fails"))
        let step = try #require(project.buildStep)
        let error = projectError { try BuildRunner.run(step, in: project.directory, venv: nil, echo: false) }
        guard case .buildFailed(let command, let status, let lastLines) = error else {
            Issue.record("expected buildFailed, got \(String(describing: error))")
            return
        }
        #expect(command == "sh ./build.sh")
        #expect(status == 3)
        #expect(lastLines.count == 20)
        #expect(lastLines.first == "line 12")
        #expect(lastLines.last == "boom: missing asset")
        let text = error!.description
        #expect(text.contains("failed with exit code 3"))
        #expect(text.contains("  boom: missing asset"))
        #expect(!text.contains("line 11\n"))
    }

    @Test("preparation stops at a failing build")
    func prepareStops() throws {
        let dir = try temporaryDirectory("build-prepare")
        defer { try? FileManager.default.removeItem(at: dir) }
        var options = PrepareOptions()
        options.echoOutput = false
        options.python = try fakePython(in: dir, status: 0)  // "Flask is importable": no manifest needed
        let project = try Project.load(directory: fixture("build-fails"))
        let error = projectError { _ = try ProjectPreparer.prepare(project, options: options, logger: quietLogger) }
        guard case .buildFailed(_, 3, _) = error else {
            Issue.record("expected buildFailed, got \(String(describing: error))")
            return
        }
        options.runBuild = false
        let report = try ProjectPreparer.prepare(project, options: options, logger: quietLogger)
        #expect(report.build == nil)
        #expect(report.steps.contains("build: skipped `sh ./build.sh` (--skip-build)"))
        #expect(report.appTarget.venv == nil)
    }
}
