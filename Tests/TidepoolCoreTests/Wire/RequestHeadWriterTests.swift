import Testing
@testable import TidepoolCore

/// The front writes request heads with `RequestHeadWriter`: its bytes must be
/// exactly `FrameEncoder`'s for the same head.
@Suite struct RequestHeadWriterTests {
    @Test(arguments: [0, 1, 3])
    func writesTheEncodersBytes(headerCount: Int) throws {
        let headers = (0..<headerCount).map { Header(name: Array("X-Name-\($0)".utf8), value: Array("välue \($0)".utf8)) }
            + [Header("X-Forwarded-For", "10.0.0.1")]
        let head = RequestHead(
            method: "POST", target: Array("/api/data?x=1".utf8), versionMajor: 1, versionMinor: 0, headers: headers,
            remoteAddress: "10.0.0.1", remotePort: 4242, serverName: "example.test", serverPort: 8080,
            scheme: "http", timeoutMillis: 300_000)
        // Written after two bytes already there, as the front appends to its buffer.
        let bytes = ByteCursor.withBytes(capacity: 512, { frame in
            frame.put(9)
            frame.put(9)
            var writer = head.target.withUnsafeBytes {
                RequestHeadWriter(id: 77, method: head.method, target: $0, versionMajor: 1, versionMinor: 0, into: &frame)
            }
            for header in headers.dropLast() {
                header.name.withUnsafeBytes { name in
                    header.value.withUnsafeBytes { value in writer.header(name: name, value: value, into: &frame) }
                }
            }
            writer.header("X-Forwarded-For", "10.0.0.1", into: &frame)
            Array("10.0.0.1".utf8).withUnsafeBytes { remote in
                Array("example.test".utf8).withUnsafeBytes { server in
                    writer.end(
                        remoteAddress: remote, remotePort: 4242, serverName: server, serverPort: 8080, scheme: "http",
                        timeoutMillis: 300_000, into: &frame)
                }
            }
        }) { Array($0) }
        #expect(bytes == [9, 9] + FrameEncoder.encode(.requestHead(id: 77, head)))
        // And the frame decodes back to the head.
        let decoded = try Array(bytes.dropFirst(2)).withUnsafeBytes { try FrameDecoder.decode($0)?.frame }
        #expect(decoded == .requestHead(id: 77, head))
    }
}
