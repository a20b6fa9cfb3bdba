import Foundation
import Testing

@testable import TidepoolProject

@Suite("vercel.json")
struct VercelConfigTests {
    func parse(_ json: String) throws -> (config: VercelConfig, warnings: [String]) {
        try VercelConfigParser.parse(Data(json.utf8))
    }

    @Test("every feature of the full fixture")
    func fullFixture() throws {
        let (config, warnings) = try #require(try VercelConfig.load(directory: fixture("vercel-full")))
        #expect(config.buildCommand == "python build.py")
        #expect(config.cleanUrls)
        #expect(config.trailingSlash == false)

        #expect(config.headers.count == 2)
        let api = config.headers[0]
        #expect(api.source.source == "/api/:path*")
        #expect(api.headers == [.init(key: "Cache-Control", value: "no-store")])
        #expect(api.has == [RouteCondition(type: .header, key: "x-debug", value: nil)])
        #expect(api.missing == [RouteCondition(type: .query, key: "nocache", value: "1")])
        #expect(api.source.match("/api/items/1")?.parameters == ["path": "items/1"])
        #expect(config.headers[1].has.isEmpty && config.headers[1].missing.isEmpty)

        #expect(config.redirects.map(\.statusCode) == [308, 307, 301, 308])
        #expect(config.redirects[0].destination == "/new/:slug")
        #expect(config.redirects[3].has == [RouteCondition(type: .host, key: nil, value: "(?<sub>.*)\\.example\\.com")])

        #expect(config.rewrites.map(\.destination) == ["/api/posts/:slug", "/static/docs.html"])
        #expect(config.rewrites[1].has == [RouteCondition(type: .cookie, key: "beta", value: nil)])

        #expect(config.functions == [
            FunctionRule(glob: "api/*.py", maxDuration: 10),
            FunctionRule(glob: "main.py", maxDuration: 30, memory: 1024, maxConcurrency: 16),
        ])
        #expect(config.functionSettings(for: "main.py")?.maxConcurrency == 16)
        #expect(config.functionSettings(for: "api/index.py")?.maxDuration == 10)
        #expect(config.functionSettings(for: "api/v1/index.py") == nil)

        #expect(warnings == [
            "vercel.json: unknown key `experimentalThing` ignored (Tidepool reads: buildCommand, cleanUrls, functions, headers, redirects, rewrites, trailingSlash)",
            "vercel.json: `regions` is a Vercel setting Tidepool does not use; ignored",
        ])
    }

    @Test("a project without vercel.json has none")
    func absent() throws {
        #expect(try VercelConfig.load(directory: fixture("missing")) == nil)
    }

    @Test("empty object: defaults")
    func defaults() throws {
        let (config, warnings) = try parse("{}")
        #expect(config == VercelConfig())
        #expect(config.trailingSlash == nil)
        #expect(warnings.isEmpty)
    }

    @Test("unknown keys inside rules are warned about with their path")
    func nestedUnknown() throws {
        let (_, warnings) = try parse(#"{"rewrites": [{"source": "/a", "destination": "/b", "locale": false}]}"#)
        #expect(warnings == ["vercel.json: unknown key `rewrites[0].locale` ignored"])
    }

    @Test("wrong types and shapes name the JSON path", arguments: [
        (#"{"redirects": [{"source": "/a", "destination": "/b"}, {"source": "/c", "destination": "/d"}, {"source": "/e", "destination": "/f", "permanent": "yes"}]}"#,
         "redirects[2].permanent", "must be a boolean (true or false), not a string"),
        (#"{"cleanUrls": 1}"#, "cleanUrls", "must be a boolean (true or false), not a number"),
        (#"{"buildCommand": ["make"]}"#, "buildCommand", "must be a string, not an array"),
        (#"{"headers": {}}"#, "headers", "must be an array, not an object"),
        (#"{"headers": [{"source": "/a"}]}"#, "headers[0]", "is missing the required key `headers`"),
        (#"{"headers": [{"source": "/a", "headers": [{"key": "x"}]}]}"#, "headers[0].headers[0]", "is missing the required key `value`"),
        (#"{"rewrites": [{"source": "a", "destination": "/b"}]}"#, "rewrites[0].source", "must start with `/`"),
        (#"{"rewrites": [{"source": "/a(", "destination": "/b"}]}"#, "rewrites[0].source", "is not a valid pattern: unbalanced"),
        (#"{"rewrites": [{"source": "/a", "destination": "/b", "has": [{"type": "ip", "key": "x"}]}]}"#, "rewrites[0].has[0].type", "must be one of header, query, host, cookie"),
        (#"{"rewrites": [{"source": "/a", "destination": "/b", "has": [{"type": "host"}]}]}"#, "rewrites[0].has[0].value", "is required for type \"host\""),
        (#"{"rewrites": [{"source": "/a", "destination": "/b", "missing": [{"type": "header"}]}]}"#, "rewrites[0].missing[0].key", "is required"),
        (#"{"redirects": [{"source": "/a", "destination": "/b", "statusCode": 200}]}"#, "redirects[0].statusCode", "must be one of 301, 302, 303, 307, 308"),
        (#"{"redirects": [{"source": "/a", "destination": "/b", "statusCode": 301.5}]}"#, "redirects[0].statusCode", "must be a whole number"),
        (#"{"functions": {"main.py": {"memory": 64}}}"#, "functions[\"main.py\"].memory", "must be between 128 and 10240"),
        (#"{"functions": {"main.py": {"maxDuration": "10s"}}}"#, "functions[\"main.py\"].maxDuration", "must be a number, not a string"),
        (#"{"functions": {"main.py": {"maxConcurrency": 0}}}"#, "functions[\"main.py\"].maxConcurrency", "must be at least 1"),
        (#"[]"#, "", "must be a JSON object, not an array"),
    ])
    func wrongType(json: String, path: String, reason: String) {
        let error = projectError { _ = try parse(json) }
        guard case .invalidVercelConfig(let file, let actualPath, let actualReason) = error else {
            Issue.record("expected invalidVercelConfig, got \(String(describing: error))")
            return
        }
        #expect(file == "vercel.json")
        #expect(actualPath == path)
        #expect(actualReason.contains(reason), "\(actualReason)")
        if !path.isEmpty { #expect(error!.description.hasPrefix("vercel.json: `\(path)` ")) }
    }

    @Test("malformed JSON names the file and the parser's reason")
    func malformed() {
        let error = projectError { _ = try parse("{\n  \"cleanUrls\": tru\n}") }
        #expect(error?.description.hasPrefix("vercel.json is invalid: is not valid JSON: ") == true, "\(String(describing: error))")
        #expect(error?.description.contains("(line 2, column") == true, "\(String(describing: error))")
    }

    @Test("function globs", arguments: [
        ("api/*.py", "api/index.py", true), ("api/*.py", "api/v1/index.py", false),
        ("api/**/*.py", "api/v1/index.py", true), ("api/**/*.py", "api/index.py", true),
        ("**/*.py", "main.py", true), ("./main.py", "main.py", true), ("main.py", "src/main.py", false),
        ("api/inde?.py", "api/index.py", true),
    ])
    func globs(glob: String, file: String, matches: Bool) {
        #expect(FunctionRule(glob: glob).matches(file) == matches)
    }
}
