/// A line-by-line port of path-to-regexp 6 (`lexer`, `parse`,
/// `tokensToRegexp`), the library Vercel compiles `source` patterns with.
/// Kept separate from `SourcePattern` so the port can be diffed against the
/// original. Options are fixed to Vercel's: strict, case-sensitive,
/// delimiter "/", prefixes "./", anchored at both ends.
enum PathToRegexp {
    /// A parameter (`:name`, `(regex)`, `{prefix:name suffix}`) or literal text.
    enum Token: Equatable {
        case text(String)
        case parameter(name: String?, prefix: String, suffix: String, pattern: String, modifier: String)
    }

    private enum Lexeme: Equatable {
        case modifier(Character), escaped(Character), char(Character), name(String), pattern(String), open, close, end
    }

    /// Default parameter pattern for delimiter "/": one non-empty segment, lazily.
    static let defaultPattern = #"[^\/]+?"#

    private static func lex(_ source: String) throws(SourcePatternError) -> [Lexeme] {
        let s = Array(source)
        var tokens: [Lexeme] = []
        var i = 0
        func fail(_ reason: String) -> SourcePatternError { SourcePatternError(source: source, reason: reason) }
        while i < s.count {
            let c = s[i]
            switch c {
            case "*", "+", "?":
                tokens.append(.modifier(c)); i += 1
            case "\\":
                guard i + 1 < s.count else { throw fail("trailing `\\` at \(i)") }
                tokens.append(.escaped(s[i + 1])); i += 2
            case "{":
                tokens.append(.open); i += 1
            case "}":
                tokens.append(.close); i += 1
            case ":":
                var j = i + 1
                var name = ""
                while j < s.count, s[j].isASCII, s[j].isLetter || s[j].isNumber || s[j] == "_" { name.append(s[j]); j += 1 }
                guard !name.isEmpty else { throw fail("missing parameter name after `:` at \(i)") }
                tokens.append(.name(name)); i = j
            case "(":
                var count = 1
                var pattern = ""
                var j = i + 1
                if j < s.count, s[j] == "?" { throw fail("pattern cannot start with `?` at \(j)") }
                while j < s.count {
                    if s[j] == "\\" {
                        pattern.append(s[j])
                        if j + 1 < s.count { pattern.append(s[j + 1]) }
                        j += 2
                        continue
                    }
                    if s[j] == ")" {
                        count -= 1
                        if count == 0 { j += 1; break }
                    } else if s[j] == "(" {
                        count += 1
                        if j + 1 >= s.count || s[j + 1] != "?" {
                            throw fail("capturing groups are not allowed inside a parameter pattern (at \(j)); use `(?:…)`")
                        }
                    }
                    pattern.append(s[j]); j += 1
                }
                if count != 0 { throw fail("unbalanced `(` at \(i)") }
                if pattern.isEmpty { throw fail("empty pattern `()` at \(i)") }
                tokens.append(.pattern(pattern)); i = j
            default:
                tokens.append(.char(c)); i += 1
            }
        }
        tokens.append(.end)
        return tokens
    }

    static func parse(_ source: String) throws(SourcePatternError) -> [Token] {
        let lexemes = try lex(source)
        var result: [Token] = []
        var i = 0
        var path = ""
        func tryChar() -> Character? { if case .char(let c) = lexemes[i] { i += 1; return c }; return nil }
        func tryEscaped() -> Character? { if case .escaped(let c) = lexemes[i] { i += 1; return c }; return nil }
        func tryName() -> String? { if case .name(let n) = lexemes[i] { i += 1; return n }; return nil }
        func tryPattern() -> String? { if case .pattern(let p) = lexemes[i] { i += 1; return p }; return nil }
        func tryModifier() -> String { if case .modifier(let m) = lexemes[i] { i += 1; return String(m) }; return "" }
        func consumeText() -> String {
            var text = ""
            while let c = tryChar() ?? tryEscaped() { text.append(c) }
            return text
        }
        func unexpected() -> SourcePatternError {
            let what: String
            switch lexemes[i] {
            case .modifier(let m): what = "`\(m)` (a modifier must follow a parameter, e.g. `:path*`; escape a literal one as `\\\\\(m)`)"
            case .close: what = "`}` without `{`"
            case .open: what = "`{` inside a group"
            default: what = "token"
            }
            return SourcePatternError(source: source, reason: "unexpected \(what)")
        }

        while i < lexemes.count {
            let char = tryChar()
            let name = tryName()
            let pattern = tryPattern()
            if name != nil || pattern != nil {
                var prefix = char.map(String.init) ?? ""
                if prefix != "." && prefix != "/" {
                    path += prefix
                    prefix = ""
                }
                if !path.isEmpty { result.append(.text(path)); path = "" }
                result.append(.parameter(
                    name: name, prefix: prefix, suffix: "", pattern: pattern ?? defaultPattern, modifier: tryModifier()))
                continue
            }
            if let value = char ?? tryEscaped() {
                path.append(value)
                continue
            }
            if !path.isEmpty { result.append(.text(path)); path = "" }
            if case .open = lexemes[i] {
                i += 1
                let prefix = consumeText()
                let groupName = tryName()
                let groupPattern = tryPattern()
                let suffix = consumeText()
                guard case .close = lexemes[i] else {
                    throw SourcePatternError(source: source, reason: "unclosed `{` group")
                }
                i += 1
                let resolvedPattern = groupName != nil && groupPattern == nil ? defaultPattern : (groupPattern ?? "")
                result.append(.parameter(
                    name: groupName, prefix: prefix, suffix: suffix, pattern: resolvedPattern, modifier: tryModifier()))
                continue
            }
            guard case .end = lexemes[i] else { throw unexpected() }
            i += 1
        }
        return result
    }

    /// The anchored regex, each parameter's name (nil = unnamed) and capture group index.
    static func compile(_ tokens: [Token]) -> (pattern: String, names: [String?], groups: [Int]) {
        var route = "^"
        var names: [String?] = []
        var groups: [Int] = []
        for token in tokens {
            switch token {
            case .text(let text):
                route += escape(text)
            case .parameter(let name, let rawPrefix, let rawSuffix, let pattern, let modifier):
                let prefix = escape(rawPrefix)
                let suffix = escape(rawSuffix)
                guard !pattern.isEmpty else {
                    route += "(?:\(prefix)\(suffix))\(modifier)"
                    continue
                }
                names.append(name)
                groups.append(captureGroupCount(route) + 1)
                if !prefix.isEmpty || !suffix.isEmpty {
                    if modifier == "+" || modifier == "*" {
                        let mod = modifier == "*" ? "?" : ""
                        route += "(?:\(prefix)((?:\(pattern))(?:\(suffix)\(prefix)(?:\(pattern)))*)\(suffix))\(mod)"
                    } else {
                        route += "(?:\(prefix)(\(pattern))\(suffix))\(modifier)"
                    }
                } else if modifier == "+" || modifier == "*" {
                    route += "((?:\(pattern))\(modifier))"
                } else {
                    route += "(\(pattern))\(modifier)"
                }
            }
        }
        return (route + "$", names, groups)
    }

    /// path-to-regexp's `escapeString`: `.+*?=^!:${}()[]|/\` get a backslash.
    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            if ".+*?=^!:${}()[]|/\\".contains(c) { out.append("\\") }
            out.append(c)
        }
        return out
    }

    /// Capturing groups opened so far: `(` not escaped, not in a class, and
    /// not `(?:`/lookaround (a `(?<name>` group does capture).
    static func captureGroupCount(_ regex: String) -> Int {
        let s = Array(regex)
        var count = 0
        var i = 0
        var inClass = false
        while i < s.count {
            let c = s[i]
            if c == "\\" { i += 2; continue }
            if inClass { if c == "]" { inClass = false }; i += 1; continue }
            if c == "[" { inClass = true } else if c == "(" {
                if i + 1 < s.count, s[i + 1] == "?" {
                    if i + 3 < s.count, s[i + 2] == "<", s[i + 3] != "=", s[i + 3] != "!" { count += 1 }
                } else {
                    count += 1
                }
            }
            i += 1
        }
        return count
    }
}
