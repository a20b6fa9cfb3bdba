import Testing
@testable import TidepoolCore

/// The head checks against request smuggling (`RequestFraming`, applied by
/// `HTTPRequestHead.parse`), one header set at a time.
@Suite struct RequestFramingTests {
    enum Verdict: Equatable {
        case accept
        case malformed
        case uriTooLong
    }

    private func check(_ headers: [(String, String)], target: Int = 1, max: Int = 100, path: String? = nil) -> Verdict {
        var head: [UInt8] = Array("POST ".utf8) + Array((path ?? "/" + String(repeating: "a", count: target - 1)).utf8)
        head += Array(" HTTP/1.1\r\n".utf8)
        for (name, value) in headers { head += Array("\(name): \(value)\r\n".utf8) }
        head += Array("\r\n".utf8)
        let result = head.withUnsafeBytes { HTTPRequestHead.parse($0, maxTargetBytes: max, maxBodyBytes: 1 << 40) }
        switch result {
        case .success: return .accept
        case .failure(.targetTooLong): return .uriTooLong
        case .failure: return .malformed
        }
    }

    @Test func ordinaryRequestsPass() {
        #expect(check([("Host", "x"), ("Content-Length", "12")]) == .accept)
        #expect(check([("Host", "x"), ("Transfer-Encoding", "Chunked")]) == .accept)
        #expect(check([("Host", "x"), ("X-Tab", "a\tb")]) == .accept)
        #expect(check([]) == .accept)
    }

    @Test func contentLengthWithTransferEncodingIsMalformed() {
        guard case .malformed = check([("Content-Length", "5"), ("Transfer-Encoding", "chunked")]) else {
            Issue.record("CL+TE accepted"); return
        }
    }

    @Test(arguments: [
        [("Content-Length", "5"), ("Content-Length", "5")],
        [("Content-Length", "5"), ("content-length", "6")],
        [("Content-Length", "-1")],
        [("Content-Length", "5, 5")],
        [("Content-Length", "")],
        [("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")],
        [("Transfer-Encoding", "xchunked")],
        [("Transfer-Encoding", "chunked, identity")],
        [("Transfer-Encoding", "gzip")],
        [("X-Bad", "a\u{0}b")],
        [("X-Bad", "a\rb")],
        [("X-Bad", "a\u{7f}")],
        [("Bad Name", "v")],
        [("Bad\tName", "v")],  // (a colon ends the name on the wire: "Bad:Name: v" is the header Bad)
    ])
    func malformed(_ headers: [(String, String)]) {
        guard case .malformed = check(headers) else {
            Issue.record("accepted \(headers)"); return
        }
    }

    @Test func spaceOrControlInTargetIsMalformed() {
        for path in ["/a b", " /", "/a\u{1}", "/\u{7f}"] {
            guard case .malformed = check([], path: path) else { Issue.record("accepted \(path)"); continue }
        }
        #expect(check([], path: "/a%20b?q=1") == .accept)
    }

    @Test func longTargetIs414() {
        #expect(check([], target: 101, max: 100) == .uriTooLong)
        #expect(check([], target: 100, max: 100) == .accept)
    }
}
