import Testing

@testable import TidepoolProject

@Suite("cleanUrls and trailingSlash redirects (routing-utils' patterns)")
struct PathNormalizationTests {
    @Test("cleanUrls", arguments: [
        ("/about.html", "/about"), ("/a/b.html", "/a/b"), ("/a/b.html/", "/a/b"), ("/index", "/"),
        ("/index.html", "/"), ("/docs/index", "/docs"), ("/docs/index.html/", "/docs"),
    ])
    func cleanUrls(path: String, location: String) {
        #expect(PathNormalization.cleanUrlsRedirect(path, trailingSlash: nil) == location)
    }

    @Test("cleanUrls leaves clean paths alone", arguments: ["/", "/about", "/reindex", "/html", "/a.htm", "/docs/"])
    func cleanUrlsNoop(path: String) {
        #expect(PathNormalization.cleanUrlsRedirect(path, trailingSlash: nil) == nil)
    }

    @Test("trailingSlash true", arguments: [
        ("/a", "/a/"), ("/a/b", "/a/b/"), ("/a.css/", "/a.css"), ("/x/v1.2/", "/x/v1.2"),
    ])
    func slashOn(path: String, location: String) {
        #expect(PathNormalization.trailingSlashRedirect(path, enabled: true) == location)
    }

    @Test("trailingSlash true leaves these alone", arguments: ["/", "/a/", "/a.css", "/.well-known/x", "/a//b", "/v1.2-x/"])
    func slashOnNoop(path: String) {
        #expect(PathNormalization.trailingSlashRedirect(path, enabled: true) == nil)
    }

    @Test("trailingSlash false", arguments: [("/a/", "/a"), ("/a/b/", "/a/b"), ("//", "/")])
    func slashOff(path: String, location: String) {
        #expect(PathNormalization.trailingSlashRedirect(path, enabled: false) == location)
    }
}
