import Foundation
import Logging

/// `tidepool dev`: what in a project directory triggers a redeploy, and a
/// cheap poll for it. Polling (every `interval` on the host's loop, stat of
/// each watched file) needs no thread and no inotify bookkeeping for new
/// directories; a project's sources are a few hundred files at most.
/// Statics under `public/` are not watched: they are read from disk per request.
struct ProjectFingerprint: Equatable {
    /// Watched file (relative path) → modification time and size.
    var files: [String: FileStamp] = [:]

    struct FileStamp: Equatable {
        var modified: Double
        var size: Int
    }

    static let manifests: Set<String> = ["pyproject.toml", "requirements.txt", "vercel.json", "Pipfile", "Pipfile.lock", "uv.lock"]
    /// Directories never descended into: environments, caches, VCS, statics.
    static let skipped: Set<String> = ["__pycache__", "node_modules", "public", "venv", "env"]

    static func watches(_ name: String) -> Bool {
        name.hasSuffix(".py") || manifests.contains(name)
    }

    /// Stats every watched file under `directory`.
    static func scan(_ directory: String) -> ProjectFingerprint {
        var result = ProjectFingerprint()
        let root = URL(fileURLWithPath: directory, isDirectory: true)
        let keys: [URLResourceKey] = [.isDirectoryKey, .contentModificationDateKey, .fileSizeKey]
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: keys) else { return result }
        let prefix = root.standardizedFileURL.path + "/"
        for case let url as URL in walker {
            let name = url.lastPathComponent
            guard let values = try? url.resourceValues(forKeys: Set(keys)) else { continue }
            if values.isDirectory == true {
                if name.hasPrefix(".") || skipped.contains(name) { walker.skipDescendants() }
                continue
            }
            guard watches(name) else { continue }
            let path = url.standardizedFileURL.path
            let relative = path.hasPrefix(prefix) ? String(path.dropFirst(prefix.count)) : path
            result.files[relative] = FileStamp(
                modified: values.contentModificationDate?.timeIntervalSince1970 ?? 0, size: values.fileSize ?? 0)
        }
        return result
    }

    /// Files added, removed or modified since `old`, sorted.
    func changes(since old: ProjectFingerprint) -> [String] {
        let names = Set(files.keys).union(old.files.keys)
        return names.filter { files[$0] != old.files[$0] }.sorted()
    }
}

extension HostRuntime {
    static let watchIntervalSeconds = 0.5

    func startWatching(_ directory: String) {
        logger.info("dev: watching \(directory) (*.py, pyproject.toml, requirements.txt, vercel.json); changes redeploy")
        poll(directory, last: ProjectFingerprint.scan(directory))
    }

    private func poll(_ directory: String, last: ProjectFingerprint) {
        guard phase != .stopping else { return }
        loop.after(Self.watchIntervalSeconds) { [unowned self] in
            let current = ProjectFingerprint.scan(directory)
            let changed = current.changes(since: last)
            if !changed.isEmpty {
                let shown = changed.prefix(3).joined(separator: ", ") + (changed.count > 3 ? ", …" : "")
                requestRedeploy(reason: "changed: \(shown)")
            }
            poll(directory, last: current)
        }
    }
}
