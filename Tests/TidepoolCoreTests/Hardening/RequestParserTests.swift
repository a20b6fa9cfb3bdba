import Testing
@testable import TidepoolCore

/// A request as the parser reports it, for comparisons.
struct ParsedRequest: Equatable {
    var method: HTTPMethod
    var target: String
    var minor: UInt8
    var headers: [String]
    var body: String
    var keepAlive: Bool
    var expectsContinue: Bool
}

enum Outcome: Equatable {
    case requests([ParsedRequest])
    /// Requests complete before the rejection, and the rejection.
    case rejected([ParsedRequest], RequestParser.Rejection)
}

/// Feeds `reads` one by one the way the front does: bytes accumulate in a
/// buffer, the parser consumes from its front; every request is taken at once
/// (no waiting for replies).
func parse(_ reads: [[UInt8]], limits: RequestParser.Limits = RequestParserTests.limits, times: [Double]? = nil) -> Outcome {
    var parser = RequestParser(limits: limits)
    var buffer: [UInt8] = []
    var done: [ParsedRequest] = []
    var current: ParsedRequest?
    for (index, read) in reads.enumerated() {
        buffer += read
        let now = times?[index] ?? 0
        while true {
            let (event, consumed) = buffer.withUnsafeBytes { parser.next($0, now: now) }
            var stop = false
            switch event {
            case .needMore:
                stop = consumed == 0
            case .head(let head):
                let bytes = Array(buffer[0..<head.length])
                current = ParsedRequest(
                    method: head.method, target: String(decoding: bytes[head.target], as: UTF8.self),
                    minor: head.versionMinor,
                    headers: head.fields.map { String(decoding: bytes[$0.name], as: UTF8.self) + "=" + String(decoding: bytes[$0.value], as: UTF8.self) },
                    body: "", keepAlive: head.keepAlive, expectsContinue: head.expectsContinue)
            case .body(let range):
                current?.body += String(decoding: buffer[range], as: UTF8.self)
            case .end:
                done.append(current!)
                current = nil
            case .reject(let rejection):
                return .rejected(done, rejection)
            }
            buffer.removeFirst(consumed)
            if stop { break }
        }
    }
    return .requests(done)
}

func b(_ text: String) -> [UInt8] { Array(text.utf8) }

@Suite struct RequestParserTests {
    static let limits = RequestParser.Limits(
        maxHeadBytes: 200, maxTargetBytes: 100, maxBodyBytes: 1000, headerTimeout: 10, bodyTimeout: 30)

    static let get = "GET /a?x=1 HTTP/1.1\r\nHost: x\r\n\r\n"
    static let post = "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    static let chunked = "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;a=1\r\nhello\r\n3 ;ext\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"

    static let getParsed = ParsedRequest(method: .get, target: "/a?x=1", minor: 1, headers: ["Host=x"], body: "", keepAlive: true, expectsContinue: false)
    static let postParsed = ParsedRequest(method: .post, target: "/b", minor: 1, headers: ["Host=x", "Content-Length=5"], body: "hello", keepAlive: true, expectsContinue: false)
    static let chunkedParsed = ParsedRequest(method: .post, target: "/c", minor: 1, headers: ["Transfer-Encoding=chunked"], body: "helloabc", keepAlive: true, expectsContinue: false)

    @Test func wholeRequests() {
        #expect(parse([b(Self.get)]) == .requests([Self.getParsed]))
        #expect(parse([b(Self.post)]) == .requests([Self.postParsed]))
        #expect(parse([b(Self.chunked)]) == .requests([Self.chunkedParsed]))
    }

    @Test func pipelinedInOneRead() {
        let all = Self.get + Self.post + Self.chunked + Self.get
        #expect(parse([b(all)]) == .requests([Self.getParsed, Self.postParsed, Self.chunkedParsed, Self.getParsed]))
    }

    /// Every split of the stream into two reads, and byte by byte, gives the same requests.
    @Test func splitAtEveryByteBoundary() {
        let all = b(Self.get + Self.post + Self.chunked)
        let expected = Outcome.requests([Self.getParsed, Self.postParsed, Self.chunkedParsed])
        for cut in 0...all.count {
            #expect(parse([Array(all[..<cut]), Array(all[cut...])]) == expected, "cut at \(cut)")
        }
        #expect(parse(all.map { [$0] }) == expected)
    }

    @Test func incompleteRequestsWait() {
        let all = b(Self.post)
        for cut in 0..<all.count {
            #expect(parse([Array(all[..<cut])]) == .requests([]), "cut at \(cut)")
        }
    }

    @Test func bareLFAndLeadingEmptyLines() {
        let r = parse([b("\r\n\n\r\nGET /x HTTP/1.1\nHost: y\n\nPOST /z HTTP/1.0\nContent-Length: 2\n\nok")])
        #expect(r == .requests([
            ParsedRequest(method: .get, target: "/x", minor: 1, headers: ["Host=y"], body: "", keepAlive: true, expectsContinue: false),
            ParsedRequest(method: .post, target: "/z", minor: 0, headers: ["Content-Length=2"], body: "ok", keepAlive: false, expectsContinue: false),
        ]))
    }

    @Test func keepAliveRules() {
        func keepAlive(_ version: String, _ connection: String?) -> Bool {
            let header = connection.map { "Connection: \($0)\r\n" } ?? ""
            guard case .requests(let r) = parse([b("GET / HTTP/\(version)\r\n\(header)\r\n")]) else { return false }
            return r[0].keepAlive
        }
        #expect(keepAlive("1.1", nil))
        #expect(!keepAlive("1.1", "close"))
        #expect(!keepAlive("1.1", "Keep-Alive, CLOSE"))
        #expect(keepAlive("1.1", "keep-alive"))
        #expect(!keepAlive("1.0", nil))
        #expect(keepAlive("1.0", "Keep-Alive"))
        #expect(!keepAlive("1.0", "keep-alive, close"))
    }

    @Test func expectContinue() {
        guard case .requests(let r) = parse([b("POST / HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\na")]) else {
            Issue.record("rejected")
            return
        }
        #expect(r[0].expectsContinue)
        #expect(parse([b("POST / HTTP/1.1\r\nExpect: something\r\nContent-Length: 1\r\n\r\na")]) == .rejected([], .expectationFailed))
        // HTTP/1.0 has no expectations.
        guard case .requests(let old) = parse([b("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\na")]) else {
            Issue.record("rejected")
            return
        }
        #expect(!old[0].expectsContinue)
    }

    @Test func methods() {
        for (token, method) in [("GET", HTTPMethod.get), ("HEAD", .head), ("POST", .post), ("PUT", .put), ("PATCH", .patch),
                                ("DELETE", .delete), ("OPTIONS", .options), ("TRACE", .trace), ("CONNECT", .connect),
                                ("get", .other), ("BREW", .other)] {
            guard case .requests(let r) = parse([b("\(token) / HTTP/1.1\r\n\r\n")]) else {
                Issue.record("\(token) rejected")
                continue
            }
            #expect(r[0].method == method, "\(token)")
        }
    }

    @Test func targets() {
        for target in ["/", "/a%20b?q#f", "*", "http://host/x", "http://[::1]:8080/x", "https://u@h:1/"] {
            #expect(parse([b("OPTIONS \(target) HTTP/1.1\r\n\r\n")]) != .rejected([], .malformed(reason: "invalid request target")), "\(target)")
        }
        for target in ["a", "http://[::1", "http://host:99999999999/", "http://host:70000/", "http://:80/", "1http://h/"] {
            #expect(parse([b("GET \(target) HTTP/1.1\r\n\r\n")]) == .rejected([], .malformed(reason: "invalid request target")), "\(target)")
        }
    }

    static let malformed: [(String, String)] = [
        ("HELLO\r\n\r\n", "malformed request line"),
        ("GET /\r\n\r\n", "malformed request line"),
        ("GET / HTTP/x.y\r\n\r\n", "malformed HTTP version"),
        ("GET / HTTP/1.10\r\n\r\n", "malformed HTTP version"),
        ("GET / http/1.1\r\n\r\n", "malformed HTTP version"),
        ("GET / HTTP/1.1 extra\r\n\r\n", "malformed HTTP version"),
        ("GET  /  HTTP/1.1\r\n\r\n", "space or control character in the request target"),
        ("GET /a b HTTP/1.1\r\n\r\n", "space or control character in the request target"),
        ("GET /a\u{0}b HTTP/1.1\r\n\r\n", "space or control character in the request target"),
        ("GET  HTTP/1.1\r\n\r\n", "space or control character in the request target"),
        ("GET / HTTP/1.1\r\nNoColon\r\n\r\n", "header line without a colon"),
        ("GET / HTTP/1.1\r\nX-A : b\r\n\r\n", "invalid header name"),
        ("GET / HTTP/1.1\r\n: v\r\n\r\n", "invalid header name"),
        ("GET / HTTP/1.1\r\nX/A: b\r\n\r\n", "invalid header name"),
        ("GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", "control character in header X-A"),
        ("GET / HTTP/1.1\r\nX-A: a\u{0}b\r\n\r\n", "control character in header X-A"),
        ("GET / HTTP/1.1\r\nX-A: a\u{7f}\r\n\r\n", "control character in header X-A"),
        ("GET / HTTP/1.1\r\n continued\r\n\r\n", "obsolete line folding in a header"),
        ("GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", "obsolete line folding in a header"),
        ("POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", "both Content-Length and Transfer-Encoding"),
        ("POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nA", "Content-Length repeated"),
        ("POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n", "Content-Length is not a number"),
        ("POST / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n", "Content-Length is not a number"),
        ("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", "Content-Length is out of range"),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "unsupported Transfer-Encoding"),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked, identity\r\n\r\n", "unsupported Transfer-Encoding"),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", "Transfer-Encoding repeated"),
        ("HEAD / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", "a HEAD request with a body"),
        ("HEAD / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "a HEAD request with a body"),
        ("TRACE / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", "a TRACE request with a body"),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk size is not a hexadecimal number"),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n", "chunk size is not a hexadecimal number"),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n+3\r\n", "chunk size is not a hexadecimal number"),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0x3\r\n", "unexpected byte after the chunk size"),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", "chunk size is not a hexadecimal number"),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n", "chunk size out of range"),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX", "chunk data longer than its chunk size"),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\rX", "chunk data longer than its chunk size"),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n folded\r\n\r\n", "obsolete line folding in a trailer"),
    ]

    @Test func httpVersions() {
        // A later 1.x is served as 1.1 (RFC 9110 §2.5); another major is a 505.
        for (version, minor) in [("HTTP/1.0", UInt8(0)), ("HTTP/1.1", 1), ("HTTP/1.2", 1), ("HTTP/1.9", 1)] {
            guard case .requests(let done) = parse([b("GET / \(version)\r\n\r\n")]) else {
                Issue.record("\(version) refused"); continue
            }
            #expect(done.map(\.minor) == [minor], "\(version)")
        }
        for version in ["HTTP/2.0", "HTTP/0.9", "HTTP/3.0"] {
            #expect(parse([b("GET / \(version)\r\n\r\n")]) == .rejected([], .versionNotSupported), "\(version)")
        }
        #expect(RequestParser.Rejection.versionNotSupported.status == 505)
        // The h2c prior-knowledge preface asks for HTTP/2 on its first line.
        #expect(parse([b("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")]) == .rejected([], .versionNotSupported))
    }

    @Test func malformedRequestsAreRejected() {
        for (text, reason) in Self.malformed {
            #expect(parse([b(text)]) == .rejected([], .malformed(reason: reason)), "\(text.debugDescription)")
            // The same verdict byte by byte, after a request that passed.
            #expect(parse(b(Self.get + text).map { [$0] }) == .rejected([Self.getParsed], .malformed(reason: reason)),
                    "\(text.debugDescription) split")
        }
    }

    @Test func limits() {
        let big = "GET / HTTP/1.1\r\nX: " + String(repeating: "h", count: 300) + "\r\n\r\n"
        #expect(parse([b(big)]) == .rejected([], .headTooLarge))
        // Incomplete but already too large.
        #expect(parse([b(String(big.dropLast(4)))]) == .rejected([], .headTooLarge))
        let longLine = "GET /" + String(repeating: "a", count: 250) + " HTTP/1.1\r\n\r\n"
        #expect(parse([b(longLine)]) == .rejected([], .targetTooLong))
        let longTarget = "GET /" + String(repeating: "a", count: 120) + " HTTP/1.1\r\n\r\n"
        #expect(parse([b(longTarget)]) == .rejected([], .targetTooLong))
        #expect(parse([b("POST / HTTP/1.1\r\nContent-Length: 1001\r\n\r\n")]) == .rejected([], .bodyTooLarge))
        #expect(parse([b("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3e9\r\n")]) == .rejected([], .bodyTooLarge))
        #expect(parse([b("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1f4\r\n" + String(repeating: "a", count: 500) + "\r\n1f5\r\n")])
            == .rejected([], .bodyTooLarge))
        let longTrailer = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: " + String(repeating: "t", count: 300) + "\r\n\r\n"
        #expect(parse([b(longTrailer)]) == .rejected([], .headTooLarge))
        #expect(parse([b("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1 " + String(repeating: "e", count: 1100))])
            == .rejected([], .malformed(reason: "chunk-size line too long")))
    }

    @Test func headAtTheLimitPasses() {
        let prefix = "GET / HTTP/1.1\r\nX: "
        let head = prefix + String(repeating: "h", count: 200 - prefix.utf8.count - 4) + "\r\n\r\n"
        #expect(head.utf8.count == 200)
        guard case .requests(let r) = parse([b(head)]) else {
            Issue.record("rejected")
            return
        }
        #expect(r.count == 1)
        #expect(parse([b(prefix) + b("h") + b(head).dropFirst(prefix.utf8.count)]) == .rejected([], .headTooLarge))
    }

    @Test func deadlines() {
        // A head trickled past headerTimeout (10 s): checked as bytes arrive.
        #expect(parse([b("GET / HT"), b("TP/1.1\r\n")], times: [0, 11]) == .rejected([], .headTimeout))
        #expect(parse([b("GET / HT"), b("TP/1.1\r\n\r\n")], times: [0, 11]) == .requests([
            ParsedRequest(method: .get, target: "/", minor: 1, headers: [], body: "", keepAlive: true, expectsContinue: false)]))
        // The head's clock starts at its first byte, not at a previous request.
        #expect(parse([b(Self.get), b("GET / HTTP/1.1\r\n"), b("\r\n")], times: [0, 20, 25]).isComplete(2))
        // A body past bodyTimeout (30 s after its head).
        #expect(parse([b("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab"), b("c")], times: [0, 31]) == .rejected([], .bodyTimeout))
        #expect(parse([b("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n"), b("1\r\n")], times: [0, 31])
            == .rejected([], .bodyTimeout))
    }

    @Test func chunkExtensionsAndTrailersAndBareLF() {
        let text = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2 ;a=b\nok\n1\r\n!\r\n0\nA: b\nC: d\n\n"
        let all = b(text)
        let expected = Outcome.requests([ParsedRequest(method: .post, target: "/", minor: 1, headers: ["Transfer-Encoding=chunked"], body: "ok!", keepAlive: true, expectsContinue: false)])
        for cut in 0...all.count {
            #expect(parse([Array(all[..<cut]), Array(all[cut...])]) == expected, "cut at \(cut)")
        }
    }

    @Test func headerValuesAreTrimmedAndObsTextKept() {
        guard case .requests(let r) = parse([[UInt8](b("GET / HTTP/1.1\r\nA:  \t v w \t\r\nB:\r\nC: ")) + [0xe9, 0x0d, 0x0a, 0x0d, 0x0a]]) else {
            Issue.record("rejected")
            return
        }
        #expect(r[0].headers.prefix(2) == ["A=v w", "B="])
    }
}

extension Outcome {
    func isComplete(_ count: Int) -> Bool {
        if case .requests(let r) = self { return r.count == count }
        return false
    }
}

/// The word-at-a-time byte search the head parser uses finds exactly what a
/// byte-by-byte search finds: every range, every byte value (high bytes and
/// the byte just below the target included, where the trick could misfire).
@Suite struct ByteSearchTests {
    @Test func matchesTheNaiveSearch() {
        var random = SplitMix64(seed: 42)
        for _ in 0..<2_000 {
            let count = Int(random.next() % 40)
            let alphabet: [UInt8] = [0x0a, 0x0b, 0x09, 0x3a, 0x3b, 0x39, 0x20, 0x00, 0x80, 0x8a, 0xff, 0x61]
            let bytes = (0..<count).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] }
            let lower = count == 0 ? 0 : Int(random.next() % UInt64(count + 1))
            let upper = lower + Int(random.next() % UInt64(count - lower + 1))
            for target in [UInt8(0x0a), 0x3a, 0x20, 0x00, 0xff] {
                let naive = bytes[lower..<upper].firstIndex(of: target)
                let fast = bytes.withUnsafeBytes { HTTPRequestHead.firstIndex($0, of: target, in: lower..<upper) }
                #expect(fast == naive, "\(bytes) \(lower)..<\(upper) \(target)")
            }
        }
    }
}
