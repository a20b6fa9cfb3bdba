import Testing
@testable import TidepoolCore

@Suite struct RequestStreamGuardTests {
    static let limits = RequestStreamGuard.Limits(
        maxHeadBytes: 200, maxTargetBytes: 100, maxBodyBytes: 1000, headerTimeout: 10, bodyTimeout: 30)

    private func fresh(_ limits: RequestStreamGuard.Limits = limits) -> RequestStreamGuard {
        RequestStreamGuard(limits: limits)
    }

    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// Feeds `reads` in order (all at time 0) and returns the last verdict.
    private func run(_ reads: [String], limits: RequestStreamGuard.Limits = limits) -> RequestStreamGuard.Verdict {
        var g = fresh(limits)
        var verdict = RequestStreamGuard.Verdict.deliver(upTo: 0)
        for read in reads { verdict = g.feed(bytes(read), now: 0) }
        return verdict
    }

    static let get = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
    static let post = "POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    static let chunked = "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n3 ext\r\nabc\r\n0\r\nX-T: 1\r\n\r\n"

    // MARK: boundaries

    @Test func wholeRequestsAreDelivered() {
        for request in [Self.get, Self.post, Self.chunked] {
            #expect(run([request]) == .deliver(upTo: Int64(request.utf8.count)))
        }
    }

    @Test func anIncompleteHeadIsHeldBack() {
        #expect(run(["GET /a HTTP/1.1\r\nHo"]) == .deliver(upTo: 0))
        let partial = Self.get + "POST /x HTTP/1.1\r\n"
        #expect(run([partial]) == .deliver(upTo: Int64(Self.get.utf8.count)))
    }

    @Test func bodiesPassAsTheyArrive() {
        let head = "POST /b HTTP/1.1\r\nContent-Length: 10\r\n\r\n"
        #expect(run([head + "abc"]) == .deliver(upTo: Int64(head.utf8.count + 3)))
        let chunkedHead = "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhe"
        #expect(run([chunkedHead]) == .deliver(upTo: Int64(chunkedHead.utf8.count)))
    }

    @Test func pipelinedRequestsKeepTheirBoundaries() {
        let stream = Self.post + Self.chunked + Self.get + "GET /tail HTTP/1.1\r\n"
        let upTo = Int64((Self.post + Self.chunked + Self.get).utf8.count)
        #expect(run([stream]) == .deliver(upTo: upTo))
    }

    /// Every way of cutting a pipelined stream into two reads, and byte by
    /// byte, ends where one read ends.
    @Test func everySplitGivesTheSameVerdict() {
        let stream = bytes("\r\n" + Self.post + Self.chunked + Self.get + "PUT /p HTTP/1.1\nContent-Length: 2\n\nok" + "GET /t HTTP/1.1\r\n")
        var whole = fresh()
        let expected = whole.feed(stream, now: 0)
        #expect(expected == .deliver(upTo: Int64(stream.count - "GET /t HTTP/1.1\r\n".utf8.count)))
        for cut in 0...stream.count {
            var g = fresh()
            _ = g.feed(Array(stream[..<cut]), now: 0)
            #expect(g.feed(Array(stream[cut...]), now: 0) == expected, "cut at \(cut)")
        }
        var g = fresh()
        var last = RequestStreamGuard.Verdict.deliver(upTo: 0)
        for byte in stream { last = g.feed([byte], now: 0) }
        #expect(last == expected)
    }

    @Test func bareLineFeedsAndLeadingEmptyLines() {
        let request = "\r\n\nGET / HTTP/1.1\nHost: x\n\n"
        #expect(run([request]) == .deliver(upTo: Int64(request.utf8.count)))
    }

    @Test func aHeadWithContentLengthZeroHasNoBody() {
        let request = "HEAD / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
        #expect(run([request + Self.get]) == .deliver(upTo: Int64((request + Self.get).utf8.count)))
    }

    /// evhttp 2.1.12 reads a body on GET, DELETE and OPTIONS too.
    @Test(arguments: ["GET", "DELETE", "OPTIONS", "PUT", "PATCH"])
    func otherMethodsHaveBodies(method: String) {
        let request = "\(method) / HTTP/1.1\r\nContent-Length: 14\r\n\r\nGET /x HTTP/1."
        let next = "GET /n HTTP/1.1\r\n"
        #expect(run([request + next]) == .deliver(upTo: Int64(request.utf8.count)))
    }

    // MARK: limits

    @Test func headOverTheLimitIs431() {
        let big = "GET / HTTP/1.1\r\nX-Big: " + String(repeating: "h", count: 300) + "\r\n\r\n"
        #expect(run([big]) == .reject(.headTooLarge, requestStart: 0))
        // Still incomplete: decided as soon as the limit is passed.
        var over = fresh()
        #expect(over.feed(Array(bytes(big).prefix(201)), now: 0) == .reject(.headTooLarge, requestStart: 0))
        var at = fresh()
        #expect(at.feed(Array(bytes(big).prefix(200)), now: 0) == .deliver(upTo: 0))
        // The second request of a pipeline: the first one passed.
        #expect(run([Self.get + big]) == .reject(.headTooLarge, requestStart: Int64(Self.get.utf8.count)))
        #expect(RequestStreamGuard.Rejection.headTooLarge.code.status == 431)
    }

    @Test func aLongRequestLineIs414() {
        let line = "GET /" + String(repeating: "a", count: 300) + " HTTP/1.1\r\n\r\n"
        #expect(run([line]) == .reject(.targetTooLong, requestStart: 0))
    }

    @Test func declaredBodyOverTheLimitIs413AtOnce() {
        let head = "POST / HTTP/1.1\r\nContent-Length: 1001\r\n\r\n"
        #expect(run([head]) == .reject(.bodyTooLarge, requestStart: 0))
        let atLimit = "POST / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n"
        #expect(run([atLimit]) == .deliver(upTo: Int64(atLimit.utf8.count)))
        let huge = "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n"
        #expect(run([huge]) == .reject(.malformed(reason: "Content-Length is out of range"), requestStart: 0))
    }

    @Test func chunkedBodyOverTheLimitIs413() {
        let head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        #expect(run([head + "3e8\r\n"]) == .deliver(upTo: Int64((head + "3e8\r\n").utf8.count)))
        #expect(run([head + "3e9\r\n"]) == .reject(.bodyTooLarge, requestStart: 0))
        let first = "200\r\n" + String(repeating: "x", count: 512) + "\r\n"
        #expect(run([head + first + "1e8\r\n"]) == .deliver(upTo: Int64((head + first + "1e8\r\n").utf8.count)))
        #expect(run([head + first + "1e9\r\n"]) == .reject(.bodyTooLarge, requestStart: 0))
    }

    // MARK: bad framing

    @Test(arguments: ["zz", "-5", "ffffffffffffffffff", "5;ext", "", " 5"])
    func badChunkSizesAreMalformed(size: String) {
        let request = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + size + "\r\nabc\r\n0\r\n\r\n"
        guard case .reject(.malformed, requestStart: 0) = run([request]) else {
            Issue.record("chunk size \(size.debugDescription) accepted"); return
        }
        // Mid-body in a later read: the request still starts at its head.
        guard case .reject(.malformed, requestStart: 0) = run(["POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", size + "\r\n"]) else {
            Issue.record("chunk size \(size.debugDescription) accepted in a later read"); return
        }
    }

    @Test func chunkDataLongerThanItsSizeIsMalformed() {
        let request = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX0\r\n\r\n"
        #expect(run([request]) == .reject(.malformed(reason: "chunk data longer than its chunk size"), requestStart: 0))
    }

    @Test func aChunkSizeLineThatNeverEndsIsMalformed() {
        let request = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n" + String(repeating: "0", count: 2000)
        #expect(run([request]) == .reject(.malformed(reason: "chunk-size line too long"), requestStart: 0))
    }

    @Test func trailersAreBounded() {
        let request = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: " + String(repeating: "t", count: 300)
        #expect(run([request]) == .reject(.headTooLarge, requestStart: 0))
    }

    @Test(arguments: [
        "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: xchunked\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n",
        "HEAD / HTTP/1.1\r\nContent-Length: 5\r\n\r\n",
        "HEAD / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
        "TRACE / HTTP/1.1\r\nContent-Length: 1\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
    ])
    func ambiguousFramingIsMalformed(request: String) {
        guard case .reject(.malformed, requestStart: 0) = run([request]) else {
            Issue.record("accepted: \(request.debugDescription)"); return
        }
    }

    @Test func afterARejectionEverythingIsRefused() {
        var g = fresh()
        let first = g.feed(bytes("POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n"), now: 0)
        #expect(first == .reject(.bodyTooLarge, requestStart: 0))
        #expect(g.feed(bytes(Self.get), now: 0) == first)
    }

    // MARK: deadlines

    @Test func aTricklingHeadIsCutAtTheHeaderTimeout() {
        var limits = Self.limits
        limits.headerTimeout = 2
        var g = fresh(limits)
        let head = bytes("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        var verdict = RequestStreamGuard.Verdict.deliver(upTo: 0)
        var time = 5.0
        for byte in head.dropLast() {
            verdict = g.feed([byte], now: time)
            if case .reject = verdict { break }
            time += 0.3
        }
        #expect(verdict == .reject(.headTimeout, requestStart: 0))
        #expect(time > 7 && time < 7.4)
    }

    @Test func idleTimeBetweenRequestsDoesNotCount() {
        var g = fresh()
        #expect(g.feed(bytes(Self.get), now: 0) == .deliver(upTo: Int64(Self.get.utf8.count)))
        #expect(g.feed(bytes("GET /b HTTP/1.1\r\n"), now: 100) == .deliver(upTo: Int64(Self.get.utf8.count)))
        let end = Int64(Self.get.utf8.count + "GET /b HTTP/1.1\r\n\r\n".utf8.count)
        #expect(g.feed(bytes("\r\n"), now: 109) == .deliver(upTo: end))
        // Stray empty lines do not start the clock either.
        #expect(g.feed(bytes("\r\n"), now: 200) == .deliver(upTo: end))
        #expect(g.feed(bytes(Self.get), now: 215) == .deliver(upTo: end + 2 + Int64(Self.get.utf8.count)))
    }

    @Test func aTricklingBodyIsCutAtTheBodyTimeout() {
        var g = fresh()
        let head = "POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n"
        #expect(g.feed(bytes(head), now: 0) == .deliver(upTo: Int64(head.utf8.count)))
        #expect(g.feed(bytes("a"), now: 29) == .deliver(upTo: Int64(head.utf8.count + 1)))
        #expect(g.feed(bytes("a"), now: 31) == .reject(.bodyTimeout, requestStart: 0))
        // A body completed in time passes, and the next request's clock starts fresh.
        var h = fresh()
        _ = h.feed(bytes(head), now: 0)
        let rest = String(repeating: "b", count: 100)
        #expect(h.feed(bytes(rest), now: 29) == .deliver(upTo: Int64(head.utf8.count + 100)))
        #expect(h.feed(bytes(Self.get), now: 60) == .deliver(upTo: Int64(head.utf8.count + 100 + Self.get.utf8.count)))
    }

    @Test func rejectionsMapToTheirCodes() {
        #expect(RequestStreamGuard.Rejection.headTooLarge.code == .headerTooLarge)
        #expect(RequestStreamGuard.Rejection.targetTooLong.code == .urlTooLong)
        #expect(RequestStreamGuard.Rejection.bodyTooLarge.code == .payloadTooLarge)
        #expect(RequestStreamGuard.Rejection.malformed(reason: "x").code == .malformedRequest)
        #expect(RequestStreamGuard.Rejection.headTimeout.code.status == 408)
        #expect(RequestStreamGuard.Rejection.bodyTimeout.code.status == 408)
    }

    @Test func closingResponseIsWellFormed() {
        let text = String(decoding: ErrorCode.headerTooLarge.closingResponse, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 431 Request Header Fields Too Large\r\n"))
        #expect(text.contains("\r\nx-tidepool-error: REQUEST_HEADER_TOO_LARGE\r\n"))
        #expect(text.contains("\r\nConnection: close\r\n\r\n431: REQUEST_HEADER_TOO_LARGE\n"))
        #expect(text.contains("Content-Length: \(ErrorCode.headerTooLarge.body.utf8.count)\r\n"))
        #expect(text.hasSuffix("\r\n\r\n" + ErrorCode.headerTooLarge.body))
    }
}
