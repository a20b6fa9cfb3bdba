import Foundation

/// Decides, without running Python, whether a module binds a name at top
/// level. Vercel's runtime looks for `app`, then `application`; we must pick
/// the same one before any interpreter starts, so we read the source.
///
/// Only statements starting at column 0 count: `app = Flask(...)` inside a
/// `create_app()` factory is a local, not the module's WSGI callable.
/// Recognised forms: `app = …`, `app: Flask = …`, `x = app = …`,
/// `def app(`, `async def app(`, `class app`, `import m as app`,
/// `from m import app` / `… import x as app` / parenthesised multi-line imports.
public enum WSGIVariableScanner {
    /// The names Vercel tries, in order.
    public static let candidateNames = ["app", "application"]

    /// The first of `candidateNames` that `source` binds at top level, or nil.
    public static func wsgiVariable(in source: String) -> String? {
        candidateNames.first { binds($0, in: source) }
    }

    /// Whether `source` binds `name` at module level.
    public static func binds(_ name: String, in source: String) -> Bool {
        let lines = source.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map(String.init)
        let escaped = NSRegularExpression.escapedPattern(for: name)
        let patterns = [
            // Assignment, optionally annotated, optionally the tail of a chain (`a = app = …`).
            #"^(?:[A-Za-z_]\w*\s*=\s*)*"# + escaped + #"\s*(?::[^=]*)?=(?!=)"#,
            #"^(?:async\s+)?def\s+"# + escaped + #"\s*\("#,
            #"^class\s+"# + escaped + #"\b"#,
            #"^import\s+.*\bas\s+"# + escaped + #"\s*(?:,|#|$)"#,
        ].compactMap { try? NSRegularExpression(pattern: $0) }

        var index = 0
        while index < lines.count {
            let line = lines[index]
            index += 1
            guard let first = line.first, !first.isWhitespace, first != "#" else { continue }
            let range = NSRange(line.startIndex..., in: line)
            if patterns.contains(where: { $0.firstMatch(in: line, range: range) != nil }) { return true }
            guard line.hasPrefix("from "), let importRange = line.range(of: " import ") else { continue }
            var names = stripComment(String(line[importRange.upperBound...]))
            // A parenthesised import may continue over the following (indented) lines.
            if names.contains("("), !names.contains(")") {
                while index < lines.count {
                    names += " " + stripComment(lines[index])
                    index += 1
                    if lines[index - 1].contains(")") { break }
                }
            }
            if importedNames(names).contains(name) { return true }
        }
        return false
    }

    /// `(a, b as c, d)` → `[a, c, d]`: the names an import list binds.
    static func importedNames(_ list: String) -> [String] {
        let cleaned = list.filter { $0 != "(" && $0 != ")" && $0 != "\\" }
        return cleaned.split(separator: ",").compactMap { item -> String? in
            let words = item.split(whereSeparator: \.isWhitespace)
            if words.count == 3, words[1] == "as" { return String(words[2]) }
            return words.first.map(String.init)
        }
    }
}

/// Drops a trailing `# comment` (good enough for import lists, which hold no strings).
private func stripComment(_ line: String) -> String {
    guard let hash = line.firstIndex(of: "#") else { return line }
    return String(line[..<hash])
}
