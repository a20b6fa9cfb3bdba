import Foundation
import Testing

@testable import TidepoolProject

@Suite("Bundle size")
struct BundleCheckTests {
    func project() throws -> URL {
        let dir = try temporaryDirectory("bundle")
        let big = String(repeating: "x", count: 6000)
        try write([
            "main.py": "app = None\n",
            "data/model.bin": big,
            "data/small.txt": "hi",
            "public/huge.bin": String(repeating: "p", count: 100_000),
            ".git/objects/pack": String(repeating: "g", count: 100_000),
            "pkg/__pycache__/x.cpython-311.pyc": String(repeating: "c", count: 100_000),
            "pkg/y.pyc": String(repeating: "c", count: 100_000),
            "pkg/y.py": "y = 1\n",
            ".venv/lib/python3.11/site-packages/six.py": String(repeating: "s", count: 3000),
            ".venv/lib/python3.11/site-packages/pip/__init__.py": String(repeating: "i", count: 100_000),
            ".venv/lib/python3.11/site-packages/pip-24.0.dist-info/RECORD": String(repeating: "i", count: 100_000),
            ".venv/bin/python": String(repeating: "b", count: 100_000),
        ], in: dir)
        return dir
    }

    @Test("counts the function files and site-packages, nothing excluded")
    func measure() throws {
        let dir = try project()
        defer { try? FileManager.default.removeItem(at: dir) }
        let report = BundleCheck.measure(project: dir, venv: dir.appendingPathComponent(".venv"))
        #expect(report.total == 6000 + 2 + 11 + 6 + 3000)
        #expect(report.contributors.map(\.path) == [
            "data/", ".venv/lib/python3.11/site-packages/six.py", "main.py", "pkg/",
        ])
        #expect(report.contributors[0].largestFile == "data/model.bin")
    }

    @Test("over a small limit: an error naming the biggest contributors")
    func overLimit() throws {
        let dir = try project()
        defer { try? FileManager.default.removeItem(at: dir) }
        let error = projectError {
            try BundleCheck.check(project: dir, venv: dir.appendingPathComponent(".venv"), limit: 4096)
        }
        guard case .bundleTooLarge(let total, let limit, let largest) = error else {
            Issue.record("expected bundleTooLarge, got \(String(describing: error))")
            return
        }
        #expect(total == 9019)
        #expect(limit == 4096)
        #expect(largest.count == 4)
        let text = error!.description
        #expect(text.contains("the function bundle is 8.8 KB, over the 4.0 KB limit"))
        #expect(text.contains("data/ 5.9 KB (largest file: data/model.bin, 5.9 KB)"))
        #expect(try BundleCheck.check(project: dir, venv: dir.appendingPathComponent(".venv"), limit: 9019).total == 9019)
    }

    @Test("human units and the CLI's size syntax")
    func units() {
        #expect(ByteCount.format(512) == "512 B")
        #expect(ByteCount.format(1536) == "1.5 KB")
        #expect(ByteCount.format(BundleCheck.defaultLimit) == "250.0 MB")
        #expect(ByteCount.format(3 * 1024 * 1024 * 1024) == "3.0 GB")
        #expect(ByteCount.parse("250MB") == BundleCheck.defaultLimit)
        #expect(ByteCount.parse("1.5 gb") == 1_610_612_736)
        #expect(ByteCount.parse("4096") == 4096)
        #expect(ByteCount.parse("12 parsecs") == nil)
    }
}
