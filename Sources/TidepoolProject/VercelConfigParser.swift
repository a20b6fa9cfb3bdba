import Foundation

/// Turns vercel.json text into a `VercelConfig`. Wrong types stop the start
/// with the JSON path (`redirects[2].permanent`), because a silently ignored
/// redirect or header is worse than a refused start; keys we do not model are
/// only warned about, because they cannot change what the app does here.
public enum VercelConfigParser {
    /// Top-level keys modelled by `VercelConfig`.
    public static let supportedKeys: Set<String> = [
        "buildCommand", "headers", "redirects", "rewrites", "cleanUrls", "trailingSlash", "functions",
    ]
    /// Real Vercel settings that have no meaning on a single host: warned as "ignored", not "unknown".
    public static let ignoredVercelKeys: Set<String> = [
        "framework", "installCommand", "devCommand", "outputDirectory", "ignoreCommand", "regions",
        "functionFailoverRegions", "crons", "env", "build", "builds", "routes", "public", "github", "git",
        "images", "version", "name", "alias", "scope", "fluid", "bunVersion",
    ]

    public static func parse(_ data: Data) throws -> (config: VercelConfig, warnings: [String]) {
        let root: JSONValue
        do {
            root = try JSONValue.parse(data)
        } catch {
            throw ProjectError.invalidVercelConfig(file: VercelConfig.fileName, path: "", reason: "is not valid JSON: \(error.reason)")
        }
        var parser = Walker()
        let config = try parser.config(root)
        return (config, parser.warnings)
    }

    /// Carries the warnings while walking; every `fail` names the path.
    private struct Walker {
        var warnings: [String] = []

        func fail(_ path: String, _ reason: String) -> ProjectError {
            .invalidVercelConfig(file: VercelConfig.fileName, path: path, reason: reason)
        }

        mutating func config(_ root: JSONValue) throws -> VercelConfig {
            guard case .object(let top) = root else { throw fail("", "must be a JSON object, not \(root.kindName)") }
            var config = VercelConfig()
            for key in top.keys.sorted() {
                let value = top[key]!
                switch key {
                case "$schema": break
                case "buildCommand": config.buildCommand = value == .null ? nil : try string(value, key)
                case "cleanUrls": config.cleanUrls = try bool(value, key)
                case "trailingSlash": config.trailingSlash = try bool(value, key)
                case "headers":
                    config.headers = try array(value, key).enumerated().map { try headerRule($1, "headers[\($0)]") }
                case "redirects":
                    config.redirects = try array(value, key).enumerated().map { try redirectRule($1, "redirects[\($0)]") }
                case "rewrites":
                    config.rewrites = try array(value, key).enumerated().map { try rewriteRule($1, "rewrites[\($0)]") }
                case "functions":
                    let entries = try object(value, key)
                    config.functions = try entries.keys.sorted().map { try functionRule(entries[$0]!, glob: $0) }
                default:
                    if ignoredVercelKeys.contains(key) {
                        warnings.append("vercel.json: `\(key)` is a Vercel setting Tidepool does not use; ignored")
                    } else {
                        warnings.append(
                            "vercel.json: unknown key `\(key)` ignored (Tidepool reads: \(supportedKeys.sorted().joined(separator: ", ")))")
                    }
                }
            }
            return config
        }

        mutating func headerRule(_ value: JSONValue, _ path: String) throws -> HeaderRule {
            let fields = try object(value, path)
            warnUnknown(fields, allowed: ["source", "headers", "has", "missing"], path)
            let list = try array(required(fields, "headers", path), "\(path).headers")
            let headers = try list.enumerated().map { index, item -> HeaderRule.Header in
                let itemPath = "\(path).headers[\(index)]"
                let header = try object(item, itemPath)
                warnUnknown(header, allowed: ["key", "value"], itemPath)
                let key = try string(required(header, "key", itemPath), "\(itemPath).key")
                guard !key.isEmpty else { throw fail("\(itemPath).key", "must not be empty") }
                return .init(key: key, value: try string(required(header, "value", itemPath), "\(itemPath).value"))
            }
            return HeaderRule(
                source: try source(fields, path), headers: headers,
                has: try conditions(fields["has"], "\(path).has"), missing: try conditions(fields["missing"], "\(path).missing"))
        }

        mutating func redirectRule(_ value: JSONValue, _ path: String) throws -> RedirectRule {
            let fields = try object(value, path)
            warnUnknown(fields, allowed: ["source", "destination", "permanent", "statusCode", "has", "missing"], path)
            var status = 308
            if let permanent = fields["permanent"] { status = try bool(permanent, "\(path).permanent") ? 308 : 307 }
            if let code = fields["statusCode"] {
                status = try int(code, "\(path).statusCode")
                guard [301, 302, 303, 307, 308].contains(status) else {
                    throw fail("\(path).statusCode", "must be one of 301, 302, 303, 307, 308, not \(status)")
                }
            }
            return RedirectRule(
                source: try source(fields, path), destination: try destination(fields, path), statusCode: status,
                has: try conditions(fields["has"], "\(path).has"), missing: try conditions(fields["missing"], "\(path).missing"))
        }

        mutating func rewriteRule(_ value: JSONValue, _ path: String) throws -> RewriteRule {
            let fields = try object(value, path)
            warnUnknown(fields, allowed: ["source", "destination", "has", "missing"], path)
            return RewriteRule(
                source: try source(fields, path), destination: try destination(fields, path),
                has: try conditions(fields["has"], "\(path).has"), missing: try conditions(fields["missing"], "\(path).missing"))
        }

        mutating func functionRule(_ value: JSONValue, glob: String) throws -> FunctionRule {
            let path = "functions[\"\(glob)\"]"
            let fields = try object(value, path)
            warnUnknown(fields, allowed: ["maxDuration", "memory", "maxConcurrency", "runtime", "includeFiles", "excludeFiles"], path)
            var rule = FunctionRule(glob: glob)
            if let v = fields["maxDuration"] {
                let seconds = try number(v, "\(path).maxDuration")
                guard seconds > 0 else { throw fail("\(path).maxDuration", "must be a positive number of seconds, not \(seconds)") }
                rule.maxDuration = seconds
            }
            if let v = fields["memory"] {
                let mb = try int(v, "\(path).memory")
                guard (128...10240).contains(mb) else { throw fail("\(path).memory", "must be between 128 and 10240 (MB), not \(mb)") }
                rule.memory = mb
            }
            if let v = fields["maxConcurrency"] {
                let n = try int(v, "\(path).maxConcurrency")
                guard n >= 1 else { throw fail("\(path).maxConcurrency", "must be at least 1, not \(n)") }
                rule.maxConcurrency = n
            }
            return rule
        }

        mutating func conditions(_ value: JSONValue?, _ path: String) throws -> [RouteCondition] {
            guard let value else { return [] }
            return try array(value, path).enumerated().map { index, item in
                let itemPath = "\(path)[\(index)]"
                let fields = try object(item, itemPath)
                warnUnknown(fields, allowed: ["type", "key", "value"], itemPath)
                let rawType = try string(required(fields, "type", itemPath), "\(itemPath).type")
                guard let type = RouteCondition.Kind(rawValue: rawType) else {
                    throw fail("\(itemPath).type", "must be one of header, query, host, cookie, not \"\(rawType)\"")
                }
                let key = try fields["key"].map { try string($0, "\(itemPath).key") }
                let value = try fields["value"].map { try string($0, "\(itemPath).value") }
                if type == .host, value == nil { throw fail("\(itemPath).value", "is required for type \"host\"") }
                if type != .host, key == nil { throw fail("\(itemPath).key", "is required for type \"\(rawType)\"") }
                if let value, (try? NSRegularExpression(pattern: value)) == nil {
                    throw fail("\(itemPath).value", "is not a valid regular expression: \(value)")
                }
                return RouteCondition(type: type, key: key, value: value)
            }
        }

        func source(_ fields: [String: JSONValue], _ path: String) throws -> SourcePattern {
            let text = try string(required(fields, "source", path), "\(path).source")
            guard text.hasPrefix("/") else { throw fail("\(path).source", "must start with `/`, got \"\(text)\"") }
            do {
                return try SourcePattern(text)
            } catch {
                throw fail("\(path).source", "is not a valid pattern: \(error.reason)")
            }
        }

        func destination(_ fields: [String: JSONValue], _ path: String) throws -> String {
            let text = try string(required(fields, "destination", path), "\(path).destination")
            guard !text.isEmpty else { throw fail("\(path).destination", "must not be empty") }
            return text
        }

        mutating func warnUnknown(_ fields: [String: JSONValue], allowed: Set<String>, _ path: String) {
            for key in fields.keys.sorted() where !allowed.contains(key) {
                warnings.append("vercel.json: unknown key `\(path).\(key)` ignored")
            }
        }

        func required(_ fields: [String: JSONValue], _ key: String, _ path: String) throws -> JSONValue {
            guard let value = fields[key] else { throw fail(path, "is missing the required key `\(key)`") }
            return value
        }

        func object(_ value: JSONValue, _ path: String) throws -> [String: JSONValue] {
            guard case .object(let o) = value else { throw fail(path, "must be an object, not \(value.kindName)") }
            return o
        }

        func array(_ value: JSONValue, _ path: String) throws -> [JSONValue] {
            guard case .array(let a) = value else { throw fail(path, "must be an array, not \(value.kindName)") }
            return a
        }

        func string(_ value: JSONValue, _ path: String) throws -> String {
            guard case .string(let s) = value else { throw fail(path, "must be a string, not \(value.kindName)") }
            return s
        }

        func bool(_ value: JSONValue, _ path: String) throws -> Bool {
            guard case .bool(let b) = value else { throw fail(path, "must be a boolean (true or false), not \(value.kindName)") }
            return b
        }

        func number(_ value: JSONValue, _ path: String) throws -> Double {
            guard case .number(let d) = value else { throw fail(path, "must be a number, not \(value.kindName)") }
            return d
        }

        func int(_ value: JSONValue, _ path: String) throws -> Int {
            let d = try number(value, path)
            guard d.rounded() == d, abs(d) < 1e15 else { throw fail(path, "must be a whole number, not \(d)") }
            return Int(d)
        }
    }
}
