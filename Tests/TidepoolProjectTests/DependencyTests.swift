import Foundation
import Testing

@testable import TidepoolProject

/// A stand-in "system Python" that answers every `-c` with `status`.
func fakePython(in dir: URL, status: Int) throws -> SystemPython {
    try write(["fake-python": "#!/bin/sh\nexit \(status)\n"], in: dir)
    let path = dir.appendingPathComponent("fake-python").path
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
    return SystemPython(executable: path)
}

@Suite("Dependencies")
struct DependencyTests {
    @Test("requirements.txt, else pyproject [project] dependencies, else none")
    func manifestDetection() throws {
        let src = try Project.load(directory: fixture("src-layout"))
        #expect(src.dependencyManifest == .requirements)
        let scripts = try Project.load(directory: fixture("scripts-app"))
        #expect(scripts.dependencyManifest == .pyproject(dependencies: ["flask>=3"]))
        #expect(try Project.load(directory: fixture("application-var")).dependencyManifest == nil)

        let dir = try temporaryDirectory("deps-both")
        defer { try? FileManager.default.removeItem(at: dir) }
        try write(["requirements.txt": "flask\n"], in: dir)
        #expect(DependencyManifest.detect(in: dir, pyproject: PyProject(dependencies: ["django"])) == .requirements)
    }

    @Test("the fingerprint follows the manifest content only")
    func fingerprint() throws {
        let dir = try temporaryDirectory("deps-hash")
        defer { try? FileManager.default.removeItem(at: dir) }
        try write(["requirements.txt": "flask\n"], in: dir)
        let first = try DependencyManifest.requirements.fingerprint(in: dir)
        #expect(first.count == 64)
        #expect(try DependencyManifest.requirements.fingerprint(in: dir) == first)
        try write(["requirements.txt": "flask==3.1\n"], in: dir)
        #expect(try DependencyManifest.requirements.fingerprint(in: dir) != first)
        let a = try DependencyManifest.pyproject(dependencies: ["flask"]).fingerprint(in: dir)
        #expect(a != first)
        #expect(try DependencyManifest.pyproject(dependencies: ["flask", "six"]).fingerprint(in: dir) != a)
    }

    @Test("SHA-256 test vectors")
    func sha256() {
        #expect(SHA256.hex(Array("".utf8)) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }

    @Test("a venv from another Python is recognised")
    func venvInspector() throws {
        let dir = try temporaryDirectory("deps-venv")
        defer { try? FileManager.default.removeItem(at: dir) }
        let venv = dir.appendingPathComponent(".venv")
        func cfg(_ text: String) throws -> String? {
            try write([".venv/pyvenv.cfg": text], in: dir)
            return VenvInspector.incompatibility(venv: venv, expectedVersion: "3.11.2", expectedHome: "/usr/bin")
        }
        #expect(try cfg("home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n") == nil)
        #expect(try cfg("home = /usr/bin\nversion = 3.12.1\n") == "it was made by Python 3.12.1, but Tidepool embeds Python 3.11.2")
        #expect(try cfg("home = /root/.pyenv/versions/3.11.2/bin\nversion = 3.11.2\n")?.contains("not the system Python in /usr/bin") == true)
        #expect(try cfg("home = /usr/bin\nversion_info = 3.11.2\n") == nil)
        #expect(try cfg("home = /usr/bin\n") == "its pyvenv.cfg records no Python version")
        try FileManager.default.removeItem(at: venv.appendingPathComponent("pyvenv.cfg"))
        #expect(VenvInspector.incompatibility(venv: venv, expectedVersion: "3.11.2", expectedHome: "/usr/bin")?.contains("no readable pyvenv.cfg") == true)
    }

    @Test("no manifest: the system Python's Flask, or a clear error")
    func noManifest() throws {
        let dir = try temporaryDirectory("deps-none")
        defer { try? FileManager.default.removeItem(at: dir) }
        let withFlask = DependencyInstaller(python: try fakePython(in: dir, status: 0), echo: false)
        let outcome = try withFlask.install(project: dir, manifest: nil, logger: quietLogger)
        #expect(outcome == .init(venv: nil, action: .systemPython, rebuiltBecause: nil))

        let without = DependencyInstaller(python: try fakePython(in: dir, status: 1), echo: false)
        let error = projectError { _ = try without.install(project: dir, manifest: nil, logger: quietLogger) }
        #expect(error == .flaskNotAvailable(directory: dir.path, python: dir.appendingPathComponent("fake-python").path))
        #expect(error?.description.contains("add a requirements.txt") == true)
    }

    @Test("a Python that prints something else than its version stops the start, and no venv is touched")
    func versionMustBeAVersion() throws {
        let dir = try temporaryDirectory("deps-version")
        defer { try? FileManager.default.removeItem(at: dir) }
        try write([
            "noisy-python": "#!/bin/sh\necho 3.11.2\necho '==16695== I   refs:      31,452,939'\n",
            "plain-python": "#!/bin/sh\necho ' 3.11.2 '\n",
            ".venv/pyvenv.cfg": "home = /usr/bin\nversion = 3.11.2\n",
        ], in: dir)
        for name in ["noisy-python", "plain-python"] {
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.appendingPathComponent(name).path)
        }
        #expect(try SystemPython(executable: dir.appendingPathComponent("plain-python").path).version() == "3.11.2")
        let noisy = SystemPython(executable: dir.appendingPathComponent("noisy-python").path)
        let error = projectError { _ = try noisy.version() }
        #expect(error?.description.contains("where its version (like 3.11.2) belongs") == true)
        #expect(error?.description.contains("==16695==") == true)
        _ = projectError { _ = try DependencyInstaller(python: noisy, echo: false).install(project: dir, manifest: .requirements, logger: quietLogger) }
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(".venv/pyvenv.cfg").path))

        for good in ["3.11.2", "3.12.10", "10.0.0"] { #expect(SystemPython.isVersion(good), "\(good)") }
        for bad in ["", "3.11", "3.11.2.1", "3..2", "3.11.x", "3.11.2rc1", "٣.١.٢", "3.11.2 extra"] {
            #expect(!SystemPython.isVersion(bad), "\(bad)")
        }
    }

    /// The one real install (needs PyPI): a foreign .venv is rebuilt with
    /// /usr/bin/python3, `six` installed, a second run does nothing, and a
    /// broken requirements.txt fails with pip's output and no stale hash.
    @Test("real install into .venv with /usr/bin/python3", .enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/python3")))
    func realInstall() throws {
        let dir = try temporaryDirectory("deps-real")
        defer { try? FileManager.default.removeItem(at: dir) }
        try write(["requirements.txt": "six\n", ".venv/pyvenv.cfg": "home = /opt/other/bin\nversion = 3.9.0\n"], in: dir)
        let installer = DependencyInstaller(echo: false)

        let first = try installer.install(project: dir, manifest: .requirements, logger: quietLogger)
        #expect(first.action == .installed(createdVenv: true))
        #expect(first.rebuiltBecause == "it was made by Python 3.9.0, but Tidepool embeds Python \(try SystemPython().version())")
        let venv = dir.appendingPathComponent(".venv")
        #expect(first.venv?.path == venv.path)
        let sitePackages = try #require(BundleCheck.sitePackagesDirectories(venv).first)
        #expect(FileManager.default.fileExists(atPath: sitePackages + "/six.py"))
        let cfg = try String(contentsOf: venv.appendingPathComponent("pyvenv.cfg"), encoding: .utf8)
        #expect(cfg.contains("home = /usr/bin"))
        let hash = try String(contentsOf: venv.appendingPathComponent(DependencyInstaller.hashFileName), encoding: .utf8)
        #expect(hash == (try DependencyManifest.requirements.fingerprint(in: dir)) + "\n")

        let second = try installer.install(project: dir, manifest: .requirements, logger: quietLogger)
        #expect(second.action == .upToDate)

        // A creation cut short before pip was installed (what Ctrl-C on a
        // first start leaves): the next install rebuilds the venv instead of
        // failing on "No module named pip" every time.
        try FileManager.default.removeItem(atPath: sitePackages + "/pip")
        try write(["requirements.txt": "six\n# changed\n"], in: dir)
        let third = try installer.install(project: dir, manifest: .requirements, logger: quietLogger)
        #expect(third.action == .installed(createdVenv: true))
        #expect(third.rebuiltBecause == "it has no working pip (was its creation cut short?)")
        #expect(FileManager.default.fileExists(atPath: sitePackages + "/pip"))
        #expect(FileManager.default.fileExists(atPath: sitePackages + "/six.py"))

        try write(["requirements.txt": "./no-such-package-dir\n"], in: dir)
        let error = projectError { _ = try installer.install(project: dir, manifest: .requirements, logger: quietLogger) }
        guard case .dependencyInstallFailed(let manifest, let status, let output) = error else {
            Issue.record("expected dependencyInstallFailed, got \(String(describing: error))")
            return
        }
        #expect(manifest == "requirements.txt")
        #expect(status != 0)
        #expect(output.contains("no-such-package-dir"))
        #expect(!FileManager.default.fileExists(atPath: venv.appendingPathComponent(DependencyInstaller.hashFileName).path))
    }
}
