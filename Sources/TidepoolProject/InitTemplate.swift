import Foundation

/// A project skeleton `tidepool init` writes. The files are compiled into the
/// binary (see scripts/gen-init-template), so init works from an installed
/// `tidepool` with no checkout next to it.
public struct InitTemplate: Sendable {
    public struct File: Sendable {
        /// Relative path inside the new project.
        public var path: String
        public var contents: Contents

        public init(path: String, contents: Contents) {
            self.path = path
            self.contents = contents
        }
    }

    /// Text is kept as text so the generated source is reviewable; binaries as base64.
    public enum Contents: Sendable {
        case text(String)
        /// Base64, newlines allowed (the generator wraps lines).
        case base64(String)

        public var bytes: Data {
            switch self {
            case .text(let s): Data(s.utf8)
            case .base64(let s): Data(base64Encoded: s, options: .ignoreUnknownCharacters) ?? Data()
            }
        }
    }

    public var name: String
    public var summary: String
    public var files: [File]

    public static let all: [InitTemplate] = [.flask]

    public static func named(_ name: String) throws -> InitTemplate {
        guard let template = all.first(where: { $0.name == name }) else {
            throw InitError.unknownTemplate(name: name, available: all.map(\.name))
        }
        return template
    }

    /// Writes every file under `directory` (created if needed). A directory
    /// that already has entries is refused unless `force`, which overwrites
    /// the template's files and leaves everything else alone.
    /// Returns the relative paths written.
    @discardableResult
    public func write(to directory: URL, force: Bool) throws -> [String] {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: directory.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw InitError.notADirectory(path: directory.path) }
            let existing = (try? fm.contentsOfDirectory(atPath: directory.path)) ?? []
            if !existing.isEmpty, !force { throw InitError.directoryNotEmpty(path: directory.path, entries: existing.sorted()) }
        }
        var written: [String] = []
        for file in files {
            let target = directory.appendingPathComponent(file.path)
            do {
                try fm.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
                try file.contents.bytes.write(to: target)
            } catch {
                throw InitError.writeFailed(path: target.path, reason: error.localizedDescription)
            }
            written.append(file.path)
        }
        return written
    }
}

/// Why `tidepool init` wrote nothing (or stopped), with what to do instead.
public enum InitError: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownTemplate(name: String, available: [String])
    case directoryNotEmpty(path: String, entries: [String])
    case notADirectory(path: String)
    case writeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case .unknownTemplate(let name, let available):
            return "unknown template `\(name)`; available: \(available.joined(separator: ", "))"
        case .directoryNotEmpty(let path, let entries):
            let shown = entries.prefix(5).joined(separator: ", ") + (entries.count > 5 ? ", …" : "")
            return "\(path) is not empty (\(shown)); choose a new directory, or pass --force to write the template's files over it"
        case .notADirectory(let path):
            return "\(path) exists and is not a directory"
        case .writeFailed(let path, let reason):
            return "cannot write \(path): \(reason)"
        }
    }
}
