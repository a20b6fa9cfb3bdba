import Testing

@testable import TidepoolProject

@Suite("has / missing conditions")
struct RouteConditionTests {
    let request = RequestFacts(
        headers: [("Host", "docs.example.com:3000"), ("X-Debug", "1"), ("Cookie", "beta=yes; theme=dark"), ("Accept", "a"), ("accept", "b")],
        query: "page=2&q=hello+world&flag")

    @Test("request facts")
    func facts() {
        #expect(request.hostname == "docs.example.com")
        #expect(request.header("x-debug") == "1")
        #expect(request.header("ACCEPT") == "a, b")
        #expect(request.query == ["page": "2", "q": "hello world", "flag": ""])
        #expect(request.cookies == ["beta": "yes", "theme": "dark"])
    }

    @Test("presence, value regex and named groups")
    func conditions() {
        #expect(RouteCondition(type: .header, key: "x-debug", value: nil).evaluate(request) == ["xdebug": "1"])
        #expect(RouteCondition(type: .header, key: "x-missing", value: nil).evaluate(request) == nil)
        #expect(RouteCondition(type: .query, key: "page", value: "\\d+").evaluate(request) == [:])
        #expect(RouteCondition(type: .query, key: "page", value: "1").evaluate(request) == nil)
        #expect(RouteCondition(type: .query, key: "page", value: "(?<p>\\d)").evaluate(request) == ["p": "2"])
        #expect(RouteCondition(type: .cookie, key: "beta", value: nil).evaluate(request) == ["beta": "yes"])
        #expect(RouteCondition(type: .cookie, key: "theme", value: "light").evaluate(request) == nil)
        #expect(RouteCondition(type: .host, key: nil, value: "(?<sub>.*)\\.example\\.com").evaluate(request) == ["sub": "docs"])
        #expect(RouteCondition(type: .host, key: nil, value: "docs\\.example\\.com").evaluate(request) == ["host": "docs.example.com"])
        #expect(RouteCondition(type: .host, key: nil, value: "example\\.com").evaluate(request) == nil)
    }

    @Test("has all and missing none")
    func combined() {
        let has = [RouteCondition(type: .header, key: "x-debug", value: nil)]
        let missing = [RouteCondition(type: .query, key: "nocache", value: nil)]
        #expect(RouteCondition.evaluate(has: has, missing: missing, request: request) != nil)
        let present = [RouteCondition(type: .query, key: "page", value: nil)]
        #expect(RouteCondition.evaluate(has: has, missing: present, request: request) == nil)
        #expect(RouteCondition.evaluate(has: [], missing: [], request: request) == [:])
    }
}
