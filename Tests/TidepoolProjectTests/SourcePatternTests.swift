import Testing

@testable import TidepoolProject

@Suite("vercel.json source patterns (path-to-regexp 6, strict, case-sensitive)")
struct SourcePatternTests {
    @Test("compiles to the same regex as path-to-regexp", arguments: [
        ("/(.*)", #"^(?:\/(.*))$"#),
        ("/api/:path*", #"^\/api(?:\/((?:[^\/]+?)(?:\/(?:[^\/]+?))*))?$"#),
        ("/blog/:slug", #"^\/blog(?:\/([^\/]+?))$"#),
        ("/:path+", #"^(?:\/((?:[^\/]+?)(?:\/(?:[^\/]+?))*))$"#),
        ("/user/:id(\\d+)", #"^\/user(?:\/(\d+))$"#),
        ("/about", #"^\/about$"#),
    ])
    func regex(source: String, expected: String) throws {
        #expect(try SourcePattern(source).regularExpression == expected)
    }

    /// (pattern, path, expected captures or nil for no match, expected named parameters)
    @Test("matches", arguments: [
        ("/(.*)", "/", [""], [:]),
        ("/(.*)", "/a/b.css", ["a/b.css"], [:]),
        ("/api/:path*", "/api", [""], [:]),
        ("/api/:path*", "/api/a", ["a"], ["path": "a"]),
        ("/api/:path*", "/api/a/b/c", ["a/b/c"], ["path": "a/b/c"]),
        ("/:path+", "/a/b", ["a/b"], ["path": "a/b"]),
        ("/blog/:slug", "/blog/hello-world", ["hello-world"], ["slug": "hello-world"]),
        ("/docs/:slug?", "/docs", [""], [:]),
        ("/docs/:slug?", "/docs/intro", ["intro"], ["slug": "intro"]),
        ("/user/:id(\\d+)", "/user/42", ["42"], ["id": "42"]),
        ("/:lang(en|fr)/about", "/fr/about", ["fr"], ["lang": "fr"]),
        ("/files/:name.json", "/files/report.json", ["report"], ["name": "report"]),
        ("/items{/:id}?", "/items", [""], [:]),
        ("/items{/:id}?", "/items/3", ["3"], ["id": "3"]),
        ("/feed/(.*)/:page", "/feed/a/b/2", ["a/b", "2"], ["page": "2"]),
        ("/about", "/about", [], [:]),
    ] as [(String, String, [String], [String: String])])
    func matches(source: String, path: String, captures: [String], parameters: [String: String]) throws {
        let match = try #require(try SourcePattern(source).match(path))
        #expect(match.captures == captures)
        #expect(match.parameters == parameters)
    }

    @Test("does not match", arguments: [
        ("/api/:path*", "/api/"),
        ("/api/:path*", "/apix"),
        ("/:path+", "/"),
        ("/blog/:slug", "/blog/a/b"),
        ("/blog/:slug", "/Blog/a"),
        ("/blog/:slug", "/blog/"),
        ("/about", "/about/"),
        ("/user/:id(\\d+)", "/user/abc"),
        ("/:lang(en|fr)/about", "/de/about"),
    ])
    func noMatch(source: String, path: String) throws {
        #expect(try SourcePattern(source).match(path) == nil)
    }

    @Test("invalid patterns say why", arguments: [
        ("/api/:", "missing parameter name"),
        ("/a(", "unbalanced"),
        ("/((a))", "capturing groups are not allowed"),
        ("/foo?", "unexpected `?`"),
        ("/x(?:a)", "pattern cannot start with `?`"),
        ("/x{/y", "unclosed `{`"),
    ])
    func invalid(source: String, reason: String) {
        #expect {
            try SourcePattern(source)
        } throws: { error in
            (error as? SourcePatternError)?.reason.contains(reason) == true
        }
    }

    @Test("destinations", arguments: [
        ("/old/:slug", "/old/post-1", "/new/:slug", "/new/post-1"),
        ("/api/:path*", "/api/a/b", "/backend/:path*", "/backend/a/b"),
        ("/feed/(.*)", "/feed/x/y", "/api/feed?path=$1", "/api/feed?path=x/y"),
        ("/(.*)/:page", "/a/2", "/p/$2/$1", "/p/2/a"),
        ("/blog/:slug", "/blog/hi", "https://example.com/posts/:slug", "https://example.com/posts/hi"),
        ("/blog/:slug", "/blog/hi", "http://localhost:3000/:slug", "http://localhost:3000/hi"),
        ("/blog/:slug", "/blog/hi", "/posts/$9", "/posts/"),
        ("/blog/:slug", "/blog/hi", "/posts/:unknown", "/posts/:unknown"),
    ])
    func destination(source: String, path: String, destination: String, expected: String) throws {
        let match = try #require(try SourcePattern(source).match(path))
        #expect(match.substitute(into: destination) == expected)
    }

    @Test("rewrites pass unused named parameters as query parameters, as Vercel does")
    func rewriteQuery() throws {
        let match = try #require(try SourcePattern("/blog/:slug").match("/blog/a b"))
        #expect(match.substitute(into: "/post.html", appendUnusedAsQuery: true) == "/post.html?slug=a%20b")
        #expect(match.substitute(into: "/post.html?x=1", appendUnusedAsQuery: true) == "/post.html?x=1&slug=a%20b")
        #expect(match.substitute(into: "/post.html?slug=z", appendUnusedAsQuery: true) == "/post.html?slug=z")
        #expect(match.substitute(into: "/posts/:slug", appendUnusedAsQuery: true) == "/posts/a b")
        // Redirects never get them.
        #expect(match.substitute(into: "/post.html") == "/post.html")
    }

    @Test("parameters captured by `has` fill the destination")
    func extraParameters() throws {
        let match = try #require(try SourcePattern("/(.*)").match("/x"))
        #expect(match.substitute(into: "https://:sub.example.net/$1", extra: ["sub": "docs"]) == "https://docs.example.net/x")
    }
}
