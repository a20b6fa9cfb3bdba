import Foundation
import Logging
import Testing

@testable import TidepoolProject

/// Tests/Fixtures/projects/<name>, found from this file's path.
func fixture(_ name: String) -> URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/projects/\(name)")
}

/// A fresh empty directory, removed by the caller with `defer`.
func temporaryDirectory(_ label: String = "proj") throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("tidepool-\(label)-\(UUID().uuidString.prefix(8))")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// A copy of a fixture in a temporary directory, for tests that write into the project.
func copyOfFixture(_ name: String) throws -> URL {
    let parent = try temporaryDirectory(name)
    let target = parent.appendingPathComponent(name)
    try FileManager.default.copyItem(at: fixture(name), to: target)
    return target
}

/// Writes `files` (relative path → text) under `directory`.
func write(_ files: [String: String], in directory: URL) throws {
    for (path, text) in files {
        let url = directory.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }
}

/// Runs `body`, requires it to throw a `ProjectError`, and returns it.
func projectError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> ProjectError? {
    do {
        try body()
        Issue.record("expected a ProjectError, nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as ProjectError {
        return error
    } catch {
        Issue.record("expected a ProjectError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

let quietLogger: Logger = {
    var logger = Logger(label: "tests")
    logger.logLevel = .critical
    return logger
}()
