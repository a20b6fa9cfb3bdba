import Testing
@testable import TidepoolCore

@Suite struct ResponseHeadWriterTests {
    @Test func statusLineAndHeaders() {
        var line: [UInt8] = []
        Array("Content-Type".utf8).withUnsafeBytes { name in
            Array("text/plain".utf8).withUnsafeBytes { ResponseHeadWriter.header(name, $0, into: &line) }
        }
        let head = ByteCursor.withBytes(capacity: 256, { out in
            ResponseHeadWriter.statusLine(versionMinor: 1, status: 200, reason: nil, into: &out)
            out.put(line)
            ResponseHeadWriter.header("Content-Length", decimal: 1234, into: &out)
            ResponseHeadWriter.header("X-Negative", decimal: -5, into: &out)
            ResponseHeadWriter.end(into: &out)
        }) { String(decoding: $0, as: UTF8.self) }
        #expect(head == "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1234\r\nX-Negative: -5\r\n\r\n")
    }

    @Test func reasons() {
        func line(_ minor: UInt8, _ status: Int, _ reason: String?) -> String {
            ByteCursor.withBytes(capacity: ResponseHeadWriter.statusLineBytes(reason: reason), {
                ResponseHeadWriter.statusLine(versionMinor: minor, status: status, reason: reason, into: &$0)
            }) { String(decoding: $0, as: UTF8.self) }
        }
        #expect(line(0, 404, nil) == "HTTP/1.0 404 Not Found\r\n")
        #expect(line(0, 200, nil) == "HTTP/1.0 200 OK\r\n")
        #expect(line(1, 200, "OK") == "HTTP/1.1 200 OK\r\n")
        #expect(line(1, 200, "Fine") == "HTTP/1.1 200 Fine\r\n")
        #expect(line(1, 200, "") == "HTTP/1.1 200 OK\r\n")
        #expect(line(1, 201, "Made It") == "HTTP/1.1 201 Made It\r\n")
        #expect(line(1, 201, "") == "HTTP/1.1 201 Created\r\n")
        #expect(line(1, 500, "bad\r\nX: y") == "HTTP/1.1 500 Internal Server Error\r\n")
        #expect(line(1, 299, nil) == "HTTP/1.1 299 Success\r\n")
        #expect(line(1, 431, nil) == "HTTP/1.1 431 Request Header Fields Too Large\r\n")
        #expect(line(1, Int.min, nil) == "HTTP/1.1 \(Int.min) Server Error\r\n")
        let long = String(repeating: "é", count: 300)
        #expect(line(1, 418, long) == "HTTP/1.1 418 \(long)\r\n")
    }

    @Test func chunkHeaders() {
        for (size, text) in [(1, "1\r\n"), (15, "f\r\n"), (16, "10\r\n"), (0x1234ab, "1234ab\r\n"), (Int.max, "7fffffffffffffff\r\n")] {
            let out = ByteCursor.withBytes(capacity: 18, { ResponseHeadWriter.chunkHeader(size: size, into: &$0) }) {
                String(decoding: $0, as: UTF8.self)
            }
            #expect(out == text)
        }
        #expect(String(decoding: ResponseHeadWriter.lastChunk, as: UTF8.self) == "0\r\n\r\n")
    }

    @Test func safety() {
        #expect(Array("a b\t\u{e9}".utf8).withUnsafeBytes { ResponseHeadWriter.isSafe($0) })
        #expect(!Array("a\r".utf8).withUnsafeBytes { ResponseHeadWriter.isSafe($0) })
        #expect(!Array("a\n".utf8).withUnsafeBytes { ResponseHeadWriter.isSafe($0) })
        #expect(![0x61, 0].withUnsafeBytes { ResponseHeadWriter.isSafe($0) })
    }
}

@Suite struct ByteCursorTests {
    @Test func writesPiecesInOrder() {
        let text = ByteCursor.withBytes(capacity: 64, { c in
            c.put("n=")
            for value: UInt64 in [0, 9, 10, 1234, UInt64.max] {
                c.putDecimal(value)
                c.put(UInt8(ascii: ","))
            }
            c.put(Array("é".utf8))
            c.put(UnsafeRawBufferPointer(start: nil, count: 0))
        }) { String(decoding: $0, as: UTF8.self) }
        #expect(text == "n=0,9,10,1234,\(UInt64.max),é")
    }

    @Test func aFullCursorStillTakesNothing() {
        let count = ByteCursor.withBytes(capacity: 3, { c in
            c.put("abc")
            c.put([])
        }) { $0.count }
        #expect(count == 3)
    }
}
