import Testing
import TidepoolCore
@testable import TidepoolFront

/// The reply's framing flags follow the output headers, also when one is
/// removed (a vercel.json header the app's own same-named header replaces).
struct HTTPRequestOutputTests {
    private func request() throws -> HTTPRequest {
        let bytes = Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        let head = try bytes.withUnsafeBytes { raw in
            try HTTPRequestHead.parse(raw, maxTargetBytes: 1024, maxBodyBytes: 0).get()
        }
        return HTTPRequest(headBytes: bytes, head: head, connection: nil)
    }

    @Test func removingConnectionCloseKeepsTheConnection() throws {
        let request = try request()
        #expect(request.keepsConnection)
        request.addHeader("Connection", "close")
        #expect(!request.keepsConnection)
        request.removeHeaders(named: Array("connection".utf8))
        #expect(request.keepsConnection)
        #expect(!request.hasOutputHeaders)
    }

    @Test func removingOneHeaderKeepsWhatTheOthersSay() throws {
        let request = try request()
        request.addHeader("Content-Length", "5")
        request.addHeader("Date", "Wed, 25 Nov 2026 21:00:00 GMT")
        request.addHeader("Connection", "close")
        request.removeHeaders(named: Array("CONNECTION".utf8))
        #expect(request.keepsConnection)
        #expect(request.outputHasContentLength && request.outputHasDate)
        request.removeHeaders(named: Array("content-length".utf8))
        #expect(!request.outputHasContentLength && request.outputHasDate)
    }

    /// Header lines go out in the order added; removing one keeps the others
    /// as they were; a name that would split its line is refused.
    @Test func headerLinesKeepTheirOrderAndShape() throws {
        let request = try request()
        request.addHeader("X-One", "1")
        request.addHeader("Set-Cookie", "a=b; Path=/")
        request.addHeader("Bad:Name", "x")
        request.addHeader("X-Two", "two words")
        request.addHeader("X-Evil", "a\r\nInjected: yes")
        request.removeHeaders(named: Array("x-ONE".utf8))
        let head = request.withSerializedHead(status: 200, reason: nil, contentLength: 0, chunked: false, date: []) {
            String(decoding: $0, as: UTF8.self)
        }
        #expect(head
            == "HTTP/1.1 200 OK\r\nSet-Cookie: a=b; Path=/\r\nX-Two: two words\r\nContent-Length: 0\r\n\r\n")
    }
}

/// An app's Content-Length, as the front reads it to limit and frame the reply.
struct ContentLengthValueTests {
    @Test(arguments: [
        ("0", 0), ("42", 42), (" 7\t", 7), ("123456789012345678", 123_456_789_012_345_678),
        ("", nil), ("  ", nil), ("+5", nil), ("-5", nil), ("5 5", nil), ("0x10", nil),
        ("1234567890123456789", 1_234_567_890_123_456_789), ("9223372036854775808", nil),
    ] as [(String, Int?)])
    func digitsOnly(text: String, expected: Int?) {
        #expect(Array(text.utf8).withUnsafeBytes { HostRuntime.decimal($0) } == expected)
    }
}
