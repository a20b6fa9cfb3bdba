import Foundation
import Testing
@testable import TidepoolFront

/// `StaticFiles.plainPath`: a name with no symlink below the public directory
/// is its own real path (no `realpath`); anything else still goes through it.
struct StaticFilesTests {
    /// A real public directory (with a trailing slash) holding `a.txt`,
    /// `sub/b.txt` and `link.txt -> a.txt`.
    private func makeRoot() throws -> String {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("tidepool-static-\(UUID().uuidString)")
        let manager = FileManager.default
        try manager.createDirectory(at: base.appendingPathComponent("sub"), withIntermediateDirectories: true)
        try Data("a".utf8).write(to: base.appendingPathComponent("a.txt"))
        try Data("b".utf8).write(to: base.appendingPathComponent("sub/b.txt"))
        try manager.createSymbolicLink(atPath: base.appendingPathComponent("link.txt").path, withDestinationPath: "a.txt")
        let real = try #require(realpath(base.path, nil))
        defer { free(real) }
        return String(cString: real) + "/"
    }

    @Test func plainNamesNeedNoRealpath() throws {
        let root = try makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(StaticFiles.plainPath(root + "a.txt", below: root) == .plain)
        #expect(StaticFiles.plainPath(root + "sub/b.txt", below: root) == .plain)
        #expect(StaticFiles.plainPath(root + "sub", below: root) == .plain)
    }

    @Test func missingNamesAreMissing() throws {
        let root = try makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(StaticFiles.plainPath(root + "nope.txt", below: root) == .missing)
        #expect(StaticFiles.plainPath(root + "nope/b.txt", below: root) == .missing)
    }

    @Test func symlinksAndOddShapesGoThroughRealpath() throws {
        let root = try makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(StaticFiles.plainPath(root + "link.txt", below: root) == .needsRealpath)
        #expect(StaticFiles.plainPath(root + "sub/", below: root) == .needsRealpath)
        #expect(StaticFiles.plainPath(root + "./a.txt", below: root) == .needsRealpath)
        #expect(StaticFiles.plainPath(root + "sub//b.txt", below: root) == .needsRealpath)
        #expect(StaticFiles.plainPath(root, below: root) == .needsRealpath)
    }
}
