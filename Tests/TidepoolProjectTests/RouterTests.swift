import Foundation
import Testing

@testable import TidepoolProject

/// A router over `json` (a vercel.json) and a fake `public/` holding `files`
/// (URL paths; their parent directories exist implicitly).
private func router(_ json: String, entrypoint: String? = "main.py") throws -> Router {
    Router(config: try VercelConfigParser.parse(Data(json.utf8)).config, entrypointFile: entrypoint)
}

private func lookup(_ files: Set<String>) -> (String) -> PublicEntry {
    { path in
        if files.contains(path) { return .file }
        let directory = path.hasSuffix("/") ? path : path + "/"
        return files.contains { $0.hasPrefix(directory) } ? .directory : .missing
    }
}

private func route(
    _ router: Router, _ target: String, method: String = "GET", headers: [(String, String)] = [],
    files: Set<String> = []
) -> RouteDecision {
    let (path, query) = URLQuery.split(target)
    return router.route(
        RouteRequest(method: method, path: path, query: query, headers: headers.map { (name: $0.0, value: $0.1) }),
        lookup: lookup(files))
}

@Suite("Router: vercel.json and public/ in Vercel's order")
struct RouterTests {
    @Test("no vercel.json: public files, directory index, else the app with the client's target")
    func defaults() throws {
        let r = Router()
        let files: Set<String> = ["/vercel.svg", "/docs/index.html", "/index.html"]
        #expect(route(r, "/vercel.svg", files: files).action == .staticFile(path: "/vercel.svg"))
        #expect(route(r, "/vercel.svg", method: "HEAD", files: files).action == .staticFile(path: "/vercel.svg"))
        #expect(route(r, "/vercel.svg", method: "POST", files: files).action == .app(target: nil))
        #expect(route(r, "/docs/", files: files).action == .staticFile(path: "/docs/index.html"))
        #expect(route(r, "/docs", files: files).action == .staticFile(path: "/docs/index.html"))
        #expect(route(r, "/", files: files).action == .staticFile(path: "/index.html"))
        #expect(route(r, "/vercel.svg/", files: files).action == .app(target: nil))
        #expect(route(r, "/api/data?x=1", files: files).action == .app(target: nil))
        #expect(route(r, "/about", files: ["/about.html"]).action == .app(target: nil))  // no cleanUrls
    }

    @Test("redirects: permanent 308 by default, false 307, statusCode, params and query kept")
    func redirects() throws {
        let r = try router(#"""
        {"redirects": [
          {"source": "/old/:slug", "destination": "/new/:slug"},
          {"source": "/temp", "destination": "/elsewhere?from=temp", "permanent": false},
          {"source": "/moved", "destination": "https://example.com/", "statusCode": 301},
          {"source": "/files/(.*)", "destination": "/f/$1"}
        ]}
        """#)
        #expect(route(r, "/old/hello").action == .redirect(status: 308, location: "/new/hello"))
        #expect(route(r, "/old/hello?a=1&b=2").action == .redirect(status: 308, location: "/new/hello?a=1&b=2"))
        #expect(route(r, "/temp?x=1&from=me").action == .redirect(status: 307, location: "/elsewhere?from=temp&x=1"))
        #expect(route(r, "/moved").action == .redirect(status: 301, location: "https://example.com/"))
        #expect(route(r, "/files/a/b c.txt").action == .redirect(status: 308, location: "/f/a/b%20c.txt"))
        #expect(route(r, "/old/a/b").action == .app(target: nil))
    }

    @Test("redirects come before public files and headers")
    func redirectBeforeFilesystem() throws {
        let r = try router(#"""
        {"redirects": [{"source": "/logo.svg", "destination": "/vercel.svg"}],
         "headers": [{"source": "/(.*)", "headers": [{"key": "X-A", "value": "1"}]}]}
        """#)
        let decision = route(r, "/logo.svg", files: ["/logo.svg", "/vercel.svg"])
        #expect(decision == RouteDecision(action: .redirect(status: 308, location: "/vercel.svg")))
        #expect(route(r, "/vercel.svg", files: ["/vercel.svg"]).headers == [HeaderRule.Header(key: "X-A", value: "1")])
    }

    @Test("has / missing on header, query, host and cookie; has captures feed the destination")
    func conditions() throws {
        let r = try router(#"""
        {"redirects": [
          {"source": "/host-only", "destination": "/to/:sub",
           "has": [{"type": "host", "value": "(?<sub>[a-z]+)\\.example\\.com"}]},
          {"source": "/q", "destination": "/q-on", "has": [{"type": "query", "key": "flag", "value": "on"}]},
          {"source": "/h", "destination": "/h-beta", "has": [{"type": "header", "key": "x-beta"}],
           "missing": [{"type": "cookie", "key": "optout"}]}
        ]}
        """#)
        #expect(route(r, "/host-only", headers: [("Host", "shop.example.com:3000")]).action
            == .redirect(status: 308, location: "/to/shop"))
        #expect(route(r, "/host-only", headers: [("Host", "localhost")]).action == .app(target: nil))
        #expect(route(r, "/q?flag=on").action == .redirect(status: 308, location: "/q-on?flag=on"))
        #expect(route(r, "/q?flag=off").action == .app(target: nil))
        #expect(route(r, "/h", headers: [("X-Beta", "1")]).action == .redirect(status: 308, location: "/h-beta"))
        #expect(route(r, "/h", headers: [("X-Beta", "1"), ("Cookie", "optout=1")]).action == .app(target: nil))
        #expect(route(r, "/h").action == .app(target: nil))
    }

    @Test("headers: every matching rule, later value wins per name, params substituted")
    func headers() throws {
        let r = try router(#"""
        {"headers": [
          {"source": "/(.*)", "headers": [{"key": "X-Frame-Options", "value": "DENY"}, {"key": "Cache-Control", "value": "public, max-age=0"}]},
          {"source": "/api/:path*", "headers": [{"key": "cache-control", "value": "no-store"}, {"key": "X-Path", "value": ":path"}],
           "has": [{"type": "header", "key": "x-debug"}], "missing": [{"type": "query", "key": "nocache", "value": "1"}]}
        ]}
        """#)
        #expect(route(r, "/api/a/b", headers: [("x-debug", "1")]).headers == [
            .init(key: "X-Frame-Options", value: "DENY"), .init(key: "Cache-Control", value: "no-store"),
            .init(key: "X-Path", value: "a/b"),
        ])
        #expect(route(r, "/api/a", headers: [("x-debug", "1")]).action == .app(target: nil))
        #expect(route(r, "/api/a?nocache=1", headers: [("x-debug", "1")]).headers.count == 2)
        #expect(route(r, "/api/a").headers.count == 2)
    }

    @Test("rewrites: after public files, to a static file or into the app with the rewritten path")
    func rewrites() throws {
        let r = try router(#"""
        {"rewrites": [
          {"source": "/about", "destination": "/about-us.html"},
          {"source": "/blog/:slug", "destination": "/api/posts/:slug"},
          {"source": "/resize/:w/:h", "destination": "/api/sharp"},
          {"source": "/style.css", "destination": "/api/never"},
          {"source": "/proxy/:p*", "destination": "https://example.com/:p*"}
        ]}
        """#)
        let files: Set<String> = ["/about-us.html", "/style.css"]
        #expect(route(r, "/about", files: files).action == .staticFile(path: "/about-us.html"))
        #expect(route(r, "/about", method: "POST", files: files).action == .app(target: "/about-us.html"))
        #expect(route(r, "/blog/hello?x=1", files: files).action == .app(target: "/api/posts/hello?x=1"))
        #expect(route(r, "/resize/800/600", files: files).action == .app(target: "/api/sharp?h=600&w=800"))
        #expect(route(r, "/style.css", files: files).action == .staticFile(path: "/style.css"))  // filesystem first
        #expect(route(r, "/proxy/a", files: files).action == .externalRewrite(destination: "https://example.com/a"))
    }

    @Test("a rewrite to the entrypoint itself (the classic catch-all) keeps the client's path")
    func catchAllToEntrypoint() throws {
        let r = try router(#"{"rewrites": [{"source": "/(.*)", "destination": "/api/index"}]}"#, entrypoint: "api/index.py")
        #expect(route(r, "/users/1?x=2").action == .app(target: nil))
        #expect(route(r, "/favicon.ico", files: ["/favicon.ico"]).action == .staticFile(path: "/favicon.ico"))
        let withPy = try router(#"{"rewrites": [{"source": "/(.*)", "destination": "/api/index.py"}]}"#, entrypoint: "api/index.py")
        #expect(route(withPy, "/a/b").action == .app(target: nil))
    }

    @Test("rewritten paths are percent-encoded for the request-target")
    func rewriteEncoding() throws {
        let r = try router(#"{"rewrites": [{"source": "/r/:rest*", "destination": "/target/:rest*"}]}"#)
        #expect(route(r, "/r/a%20b%3Fc").action == .app(target: "/target/a%20b%3Fc"))
        let toQuery = try router(#"{"rewrites": [{"source": "/s/:q", "destination": "/search"}]}"#)
        #expect(route(toQuery, "/s/a%20b").action == .app(target: "/search?q=a%20b"))
    }

    @Test("cleanUrls: /about serves about.html, .html and /index redirect 308")
    func cleanUrls() throws {
        let r = try router(#"{"cleanUrls": true}"#)
        let files: Set<String> = ["/about.html", "/docs/index.html", "/index.html"]
        #expect(route(r, "/about", files: files).action == .staticFile(path: "/about.html"))
        #expect(route(r, "/about.html", files: files).action == .redirect(status: 308, location: "/about"))
        #expect(route(r, "/about.html?x=1", files: files).action == .redirect(status: 308, location: "/about?x=1"))
        #expect(route(r, "/docs/index.html", files: files).action == .redirect(status: 308, location: "/docs"))
        #expect(route(r, "/docs/index", files: files).action == .redirect(status: 308, location: "/docs"))
        #expect(route(r, "/index.html", files: files).action == .redirect(status: 308, location: "/"))
        #expect(route(r, "/docs", files: files).action == .staticFile(path: "/docs/index.html"))
        #expect(route(r, "/nothing", files: files).action == .app(target: nil))
        let slash = try router(#"{"cleanUrls": true, "trailingSlash": true}"#)
        #expect(route(slash, "/about.html", files: files).action == .redirect(status: 308, location: "/about/"))
    }

    @Test("trailingSlash true adds the slash except for files and .well-known; false removes it")
    func trailingSlash() throws {
        let on = try router(#"{"trailingSlash": true}"#)
        #expect(route(on, "/about").action == .redirect(status: 308, location: "/about/"))
        #expect(route(on, "/a/b?x=1").action == .redirect(status: 308, location: "/a/b/?x=1"))
        #expect(route(on, "/about/").action == .app(target: nil))
        #expect(route(on, "/style.css").action == .app(target: nil))
        #expect(route(on, "/style.css/").action == .redirect(status: 308, location: "/style.css"))
        #expect(route(on, "/.well-known/thing").action == .app(target: nil))
        #expect(route(on, "/").action == .app(target: nil))
        let off = try router(#"{"trailingSlash": false}"#)
        #expect(route(off, "/about/").action == .redirect(status: 308, location: "/about"))
        #expect(route(off, "/a/b/?x=1").action == .redirect(status: 308, location: "/a/b?x=1"))
        #expect(route(off, "/about").action == .app(target: nil))
        #expect(route(off, "/").action == .app(target: nil))
    }

    @Test("normalisation redirects come before the project's redirects")
    func precedence() throws {
        let r = try router(#"""
        {"trailingSlash": false, "redirects": [{"source": "/x/", "destination": "/never"}, {"source": "/x", "destination": "/y"}]}
        """#)
        #expect(route(r, "/x/").action == .redirect(status: 308, location: "/x"))
        #expect(route(r, "/x").action == .redirect(status: 308, location: "/y"))
    }

    @Test("a Location never carries a line break")
    func locationIsEncoded() throws {
        let r = try router(#"{"redirects": [{"source": "/go/:to", "destination": "/:to"}]}"#)
        #expect(route(r, "/go/a\r\nSet-Cookie: x").action == .redirect(status: 308, location: "/a%0D%0ASet-Cookie:%20x"))
    }
}
