import Foundation
import Testing
@testable import TidepoolFront

/// `StaticFiles.plainPath`: a name with no symlink below the public directory
/// is its own real path (no `realpath`); anything else still goes through it.
/// `entry` then `open`: the name resolved by the lookup serves the open that
/// follows it, and no later one.
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

    /// Runs `body` with a fresh root from `makeRoot`, removed afterwards.
    private func withRoot(_ body: (String) throws -> Void) throws {
        let root = try makeRoot()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try body(root)
    }

    /// The path `open` serves for `urlPath` (its descriptor closed), nil when it serves none.
    private func openedPath(_ files: StaticFiles, _ urlPath: String) -> String? {
        guard let file = files.open(decodedPath: Array(urlPath.utf8)) else { return nil }
        close(file.fd)
        return file.path
    }

    @Test func plainNamesNeedNoRealpath() throws {
        try withRoot { root in
            #expect(StaticFiles.plainPath(root + "a.txt", below: root) == .plain)
            #expect(StaticFiles.plainPath(root + "sub/b.txt", below: root) == .plain)
            #expect(StaticFiles.plainPath(root + "sub", below: root) == .plain)
        }
    }

    @Test func missingNamesAreMissing() throws {
        try withRoot { root in
            #expect(StaticFiles.plainPath(root + "nope.txt", below: root) == .missing)
            #expect(StaticFiles.plainPath(root + "nope/b.txt", below: root) == .missing)
        }
    }

    @Test func symlinksAndOddShapesGoThroughRealpath() throws {
        try withRoot { root in
            #expect(StaticFiles.plainPath(root + "link.txt", below: root) == .needsRealpath)
            #expect(StaticFiles.plainPath(root + "sub/", below: root) == .needsRealpath)
            #expect(StaticFiles.plainPath(root + "./a.txt", below: root) == .needsRealpath)
            #expect(StaticFiles.plainPath(root + "sub//b.txt", below: root) == .needsRealpath)
            #expect(StaticFiles.plainPath(root, below: root) == .needsRealpath)
        }
    }

    @Test func entryThenOpenServesTheResolvedFile() throws {
        try withRoot { root in
            let files = try #require(StaticFiles(publicDirectory: root))
            #expect(files.entry(atURLPath: "/a.txt") == .file)
            #expect(openedPath(files, "/a.txt") == root + "a.txt")
            #expect(files.entry(atURLPath: "/link.txt") == .file)
            #expect(openedPath(files, "/link.txt") == root + "a.txt")
            #expect(files.entry(atURLPath: "/sub") == .directory)
            #expect(files.entry(atURLPath: "/nope") == .missing)
            // An open with no lookup before it resolves by itself.
            #expect(openedPath(files, "/sub/b.txt") == root + "sub/b.txt")
        }
    }

    @Test func aResolvedNameIsNotTrustedPastItsOwnOpen() throws {
        try withRoot { root in try withRoot { outside in  // `outside` has sub/b.txt too
            let files = try #require(StaticFiles(publicDirectory: root))
            func swapSubForALinkOutside() throws {
                try? FileManager.default.removeItem(atPath: root + "sub")
                try FileManager.default.createSymbolicLink(atPath: root + "sub", withDestinationPath: outside + "sub")
            }
            // Looked up, then another request's lookup: the first name is forgotten.
            #expect(files.entry(atURLPath: "/sub/b.txt") == .file)
            #expect(files.entry(atURLPath: "/a.txt") == .file)
            try swapSubForALinkOutside()
            #expect(openedPath(files, "/sub/b.txt") == nil)
            // Looked up and opened: a second open resolves afresh.
            #expect(files.entry(atURLPath: "/a.txt") == .file)
            #expect(openedPath(files, "/a.txt") != nil)
            try FileManager.default.removeItem(atPath: root + "a.txt")
            try FileManager.default.createSymbolicLink(atPath: root + "a.txt", withDestinationPath: outside + "a.txt")
            #expect(openedPath(files, "/a.txt") == nil)
        } }
    }
}
