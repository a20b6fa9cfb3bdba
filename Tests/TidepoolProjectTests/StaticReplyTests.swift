import Testing

@testable import TidepoolProject

@Suite("Static replies: validators, 304, ranges")
struct StaticReplyTests {
    let etag = StaticReply.etag(size: 100, modifiedNanos: 1_700_000_000_123_456_789, inode: 42)
    let modified = 1_700_000_000

    func decide(_ conditions: StaticReply.Conditions, method: String = "GET", size: Int = 100) -> StaticReply {
        StaticReply.decide(method: method, size: size, etag: etag, modifiedSeconds: modified, conditions: conditions)
    }

    @Test("If-None-Match: the same tag (also weak, in a list, or *) gives 304; another tag 200")
    func ifNoneMatch() {
        #expect(decide(.init(ifNoneMatch: etag)) == .notModified)
        #expect(decide(.init(ifNoneMatch: "\"x\", W/\(etag)")) == .notModified)
        #expect(decide(.init(ifNoneMatch: "*")) == .notModified)
        #expect(decide(.init(ifNoneMatch: etag), method: "HEAD") == .notModified)
        #expect(decide(.init(ifNoneMatch: "\"other\"")) == .full)
        // If-None-Match present: If-Modified-Since is ignored.
        #expect(decide(.init(ifNoneMatch: "\"other\"", ifModifiedSince: HTTPDate.format(modified))) == .full)
    }

    @Test("If-Modified-Since: not newer gives 304; older date or garbage gives 200")
    func ifModifiedSince() {
        #expect(decide(.init(ifModifiedSince: HTTPDate.format(modified))) == .notModified)
        #expect(decide(.init(ifModifiedSince: HTTPDate.format(modified + 10))) == .notModified)
        #expect(decide(.init(ifModifiedSince: HTTPDate.format(modified - 1))) == .full)
        #expect(decide(.init(ifModifiedSince: "yesterday")) == .full)
    }

    @Test("Range: one range gives 206, clamped; suffix; open end; beyond the end 416; several or malformed 200")
    func ranges() {
        #expect(decide(.init(range: "bytes=0-9")) == .partial(first: 0, last: 9))
        #expect(decide(.init(range: "bytes=90-200")) == .partial(first: 90, last: 99))
        #expect(decide(.init(range: "bytes=50-")) == .partial(first: 50, last: 99))
        #expect(decide(.init(range: "bytes=-10")) == .partial(first: 90, last: 99))
        #expect(decide(.init(range: "bytes=-1000")) == .partial(first: 0, last: 99))
        #expect(decide(.init(range: "bytes=100-")) == .unsatisfiable)
        #expect(decide(.init(range: "bytes=-0")) == .unsatisfiable)
        #expect(decide(.init(range: "bytes=99999999999999999999999-")) == .unsatisfiable)
        #expect(decide(.init(range: "bytes=0-"), size: 0) == .unsatisfiable)
        #expect(decide(.init(range: "bytes=0-1,5-6")) == .full)
        #expect(decide(.init(range: "bytes=5-1")) == .full)
        #expect(decide(.init(range: "items=0-1")) == .full)
        #expect(decide(.init(range: "bytes=a-b")) == .full)
        #expect(decide(.init(range: "bytes=0-9"), method: "HEAD") == .full)
    }

    @Test("If-Range: the current ETag or date keeps the range; a stale one gets the whole file")
    func ifRange() {
        #expect(decide(.init(range: "bytes=0-9", ifRange: etag)) == .partial(first: 0, last: 9))
        #expect(decide(.init(range: "bytes=0-9", ifRange: HTTPDate.format(modified))) == .partial(first: 0, last: 9))
        #expect(decide(.init(range: "bytes=0-9", ifRange: "\"old\"")) == .full)
    }

    @Test("HTTP dates round-trip and match known values")
    func dates() {
        #expect(HTTPDate.format(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
        #expect(HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(951_782_400) == "Tue, 29 Feb 2000 00:00:00 GMT")
        for seconds in stride(from: 0, to: 4_000_000_000, by: 123_456_789) {
            #expect(HTTPDate.parse(HTTPDate.format(seconds)) == seconds)
        }
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT") == nil)
    }
}
