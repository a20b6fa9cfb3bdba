import Foundation

/// Vercel refuses a Python function over 250 MB uncompressed; a project that
/// fits here must fit there, so the same limit is checked at build time, with
/// the biggest contributors named so the user knows what to move or drop.
public enum BundleCheck {
    /// 250 MB, Vercel's (and AWS Lambda's) uncompressed function size limit.
    public static let defaultLimit: Int64 = 250 * 1024 * 1024
    /// Top-level project entries that are not part of the function bundle.
    public static let excludedTopLevel: Set<String> = ["public", ".venv", ".git"]

    /// Sizes the bundle: the project minus `public/`, `.venv`, `.git`,
    /// `__pycache__` and `*.pyc`, plus the venv's site-packages (minus pip
    /// and setuptools).
    public static func measure(project: URL, venv: URL?) -> BundleReport {
        var contributors: [BundleContributor] = []
        for name in sortedEntries(project.path) where !excludedTopLevel.contains(name) {
            if let c = contributor(path: project.path + "/" + name, display: name) { contributors.append(c) }
        }
        if let venv {
            for sitePackages in sitePackagesDirectories(venv) {
                let prefix = relative(sitePackages, to: project)
                for name in sortedEntries(sitePackages) where !isInstallerTooling(name) {
                    if let c = contributor(path: sitePackages + "/" + name, display: prefix + "/" + name) { contributors.append(c) }
                }
            }
        }
        contributors.sort { $0.bytes != $1.bytes ? $0.bytes > $1.bytes : $0.path < $1.path }
        return BundleReport(total: contributors.reduce(0) { $0 + $1.bytes }, contributors: contributors)
    }

    /// Measures and throws `ProjectError.bundleTooLarge` (top 5 contributors) when over `limit`.
    @discardableResult
    public static func check(project: URL, venv: URL?, limit: Int64 = defaultLimit) throws -> BundleReport {
        let report = measure(project: project, venv: venv)
        guard report.total <= limit else {
            throw ProjectError.bundleTooLarge(total: report.total, limit: limit, largest: Array(report.contributors.prefix(5)))
        }
        return report
    }

    /// pip and setuptools come with every venv but are never imported by the
    /// app (a Vercel bundle does not ship them): counting them would spend
    /// ~9 MB of the limit on the installer.
    static func isInstallerTooling(_ name: String) -> Bool {
        let tools = ["pip", "setuptools", "pkg_resources", "_distutils_hack"]
        return tools.contains(name) || name == "distutils-precedence.pth"
            || tools.contains { name.hasPrefix($0 + "-") && name.hasSuffix(".dist-info") }
    }

    /// `<venv>/lib/python3.X/site-packages` (normally exactly one).
    static func sitePackagesDirectories(_ venv: URL) -> [String] {
        let lib = venv.path + "/lib"
        return sortedEntries(lib).filter { $0.hasPrefix("python") }.map { lib + "/" + $0 + "/site-packages" }
            .filter { FileManager.default.fileExists(atPath: $0) }
    }

    private static func relative(_ path: String, to project: URL) -> String {
        let base = project.standardizedFileURL.path + "/"
        return path.hasPrefix(base) ? String(path.dropFirst(base.count)) : path
    }

    private static func sortedEntries(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
    }

    /// One top-level entry: its total and, for a directory, its largest file.
    private static func contributor(path: String, display: String) -> BundleContributor? {
        var total: Int64 = 0
        var largest: (path: String, bytes: Int64)?
        var isDirectory = false
        func visit(_ path: String, _ display: String) {
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return }
            let type = attributes[.type] as? FileAttributeType
            let name = (path as NSString).lastPathComponent
            if type == .typeDirectory {
                guard name != "__pycache__" else { return }
                for child in sortedEntries(path) { visit(path + "/" + child, display + "/" + child) }
                return
            }
            guard !name.hasSuffix(".pyc") else { return }
            // Symlinks count as themselves (never followed: they could point anywhere).
            let size = (attributes[.size] as? NSNumber)?.int64Value ?? 0
            total += size
            if size > (largest?.bytes ?? -1) { largest = (display, size) }
        }
        if let attributes = try? FileManager.default.attributesOfItem(atPath: path) {
            isDirectory = attributes[.type] as? FileAttributeType == .typeDirectory
        }
        visit(path, display)
        guard total > 0 || largest != nil else { return nil }
        return BundleContributor(
            path: isDirectory ? display + "/" : display, bytes: total,
            largestFile: isDirectory ? largest?.path : nil, largestFileBytes: isDirectory ? largest?.bytes : nil)
    }
}

/// The measured bundle: total bytes and every top-level contributor, largest first.
public struct BundleReport: Equatable, Sendable {
    public var total: Int64
    public var contributors: [BundleContributor]
}

/// A top-level project entry or an installed package, with its size.
public struct BundleContributor: Equatable, Sendable, CustomStringConvertible {
    /// Project-relative; directories end with `/`.
    public var path: String
    public var bytes: Int64
    /// For a directory, its biggest file (what to look at first).
    public var largestFile: String?
    public var largestFileBytes: Int64?

    public var description: String {
        var text = "\(path) \(ByteCount.format(bytes))"
        if let largestFile, let largestFileBytes {
            text += " (largest file: \(largestFile), \(ByteCount.format(largestFileBytes)))"
        }
        return text
    }
}

/// Human units for messages: `1.5 MB`. Binary multiples, like the 250 MB limit itself.
public enum ByteCount {
    public static func format(_ bytes: Int64) -> String {
        let units = ["KB", "MB", "GB", "TB"]
        guard bytes >= 1024 else { return "\(bytes) B" }
        var value = Double(bytes) / 1024
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return String(format: "%.1f", value) + " " + units[unit]
    }

    /// Parses `250MB`, `1.5 GB`, `300k` or a plain byte count (for the CLI option).
    public static func parse(_ text: String) -> Int64? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).uppercased()
        let digits = trimmed.prefix { $0.isNumber || $0 == "." }
        guard let value = Double(digits), value >= 0 else { return nil }
        let suffix = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces)
        let multipliers: [String: Double] = [
            "": 1, "B": 1, "K": 1024, "KB": 1024, "M": 1_048_576, "MB": 1_048_576,
            "G": 1_073_741_824, "GB": 1_073_741_824,
        ]
        guard let multiplier = multipliers[suffix] else { return nil }
        return Int64(value * multiplier)
    }
}
