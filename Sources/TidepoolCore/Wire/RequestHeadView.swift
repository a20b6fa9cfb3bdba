/// A `requestHead` payload left in its wire bytes, with the place of each
/// field: what the instance decodes instead of a `RequestHead`. The instance
/// turns each field straight into a Python object, so decoding the head into
/// Swift Strings and one array per header name and value (then dropping them)
/// was pure cost: about 10k instructions per request, a fifth of the
/// instance's own work.
///
/// It is validated exactly like `FrameDecoder` validates a `RequestHead` (same
/// errors): `head` gives the decoded form.
public struct RequestHeadView: Sendable {
    /// The payload after the frame's id.
    public let payload: [UInt8]
    public let method: Range<Int>
    /// The request-target exactly as the client sent it.
    public let target: Range<Int>
    public let versionMajor: UInt8
    public let versionMinor: UInt8
    public let headerCount: Int
    /// Where the first header's name length starts.
    @usableFromInline let headersStart: Int
    public let remoteAddress: Range<Int>
    public let remotePort: UInt16
    public let serverName: Range<Int>
    public let serverPort: UInt16
    public let scheme: Range<Int>
    public let timeoutMillis: UInt32

    /// Validates a `requestHead` payload (after the id) and records where its fields are.
    public init(payload raw: UnsafeRawBufferPointer) throws(FrameError) {
        var reader = ByteReader(bytes: raw, kind: .requestHead)
        method = try reader.utf8Range("method")
        target = try reader.range("target")
        versionMajor = try reader.u8("version")
        versionMinor = try reader.u8("version")
        headerCount = try reader.count("headers", minimumElementSize: 8)
        headersStart = reader.offset
        for _ in 0..<headerCount {
            _ = try reader.range("header name")
            _ = try reader.range("header value")
        }
        remoteAddress = try reader.utf8Range("remote address")
        remotePort = try reader.u16("remote port")
        serverName = try reader.utf8Range("server name")
        serverPort = try reader.u16("server port")
        scheme = try reader.utf8Range("scheme")
        timeoutMillis = try reader.u32("timeout")
        guard reader.remaining == 0 else { throw .trailingBytes(kind: .requestHead, count: reader.remaining) }
        payload = Array(UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: UInt8.self), count: raw.count))
    }

    /// Calls `body` with the range of each header's name and value, in order.
    @inlinable
    public func forEachHeader(_ body: (_ name: Range<Int>, _ value: Range<Int>) -> Void) {
        var offset = headersStart
        for _ in 0..<headerCount {
            let name = lengthPrefixed(at: offset)
            let value = lengthPrefixed(at: name.endIndex)
            body(name, value)
            offset = value.endIndex
        }
    }

    /// True if the method is exactly `name` (bytes compared, no String made).
    public func methodIs(_ name: StaticString) -> Bool {
        guard method.count == name.utf8CodeUnitCount else { return false }
        let expected = UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        return payload[method].elementsEqual(expected)
    }

    /// A validated UTF-8 field (method, addresses, scheme) as a String.
    public func string(_ range: Range<Int>) -> String {
        String(decoding: payload[range], as: UTF8.self)
    }

    /// The decoded form (for logs, tests and the rare paths).
    public var head: RequestHead {
        var headers: [Header] = []
        headers.reserveCapacity(headerCount)
        forEachHeader { name, value in headers.append(Header(name: Array(payload[name]), value: Array(payload[value]))) }
        return RequestHead(
            method: string(method), target: Array(payload[target]), versionMajor: versionMajor, versionMinor: versionMinor,
            headers: headers, remoteAddress: string(remoteAddress), remotePort: remotePort,
            serverName: string(serverName), serverPort: serverPort, scheme: string(scheme), timeoutMillis: timeoutMillis
        )
    }

    /// The range of the `u32 length, bytes` field at `offset` (already validated).
    @inlinable
    func lengthPrefixed(at offset: Int) -> Range<Int> {
        let length = Int(payload[offset]) << 24 | Int(payload[offset + 1]) << 16 | Int(payload[offset + 2]) << 8 | Int(payload[offset + 3])
        return (offset + 4)..<(offset + 4 + length)
    }
}

/// A frame as an instance reads it: `requestHead` stays in its bytes.
public enum InstanceInbound: Sendable {
    case requestHead(id: UInt32, RequestHeadView)
    case frame(Frame)
}

extension FrameDecoder {
    /// `decode` for the instance's reader: the same frames and errors, except
    /// that a `requestHead` comes back as a `RequestHeadView`.
    public static func decodeInbound(_ bytes: UnsafeRawBufferPointer) throws(FrameError) -> (frame: InstanceInbound, consumed: Int)? {
        guard let size = try frameSize(bytes), bytes.count >= size else { return nil }
        guard bytes[4] == FrameKind.requestHead.rawValue else {
            guard let (frame, used) = try decode(bytes) else { return nil }
            return (.frame(frame), used)
        }
        var reader = ByteReader(bytes: UnsafeRawBufferPointer(rebasing: bytes[5..<size]), kind: .requestHead)
        let id = try reader.u32("id")
        let view = try RequestHeadView(payload: UnsafeRawBufferPointer(rebasing: bytes[9..<size]))
        return (.requestHead(id: id, view), size)
    }
}

extension ByteReader {
    /// A `u32 length, bytes` field: its range in the payload.
    mutating func range(_ field: String) throws(FrameError) -> Range<Int> {
        let length = Int(try u32(field))
        let start = offset
        _ = try take(length, field)
        return start..<offset
    }

    /// A `u32 length, UTF-8` field: its range, after validating it like
    /// `string` does (ASCII, the usual case, is checked without a String).
    mutating func utf8Range(_ field: String) throws(FrameError) -> Range<Int> {
        let range = try range(field)
        let raw = UnsafeRawBufferPointer(rebasing: bytes[range])
        guard raw.allSatisfy({ $0 < 0x80 }) || String(validating: raw, as: UTF8.self) != nil else {
            throw .invalidField(kind: kind, field: field)
        }
        return range
    }
}
