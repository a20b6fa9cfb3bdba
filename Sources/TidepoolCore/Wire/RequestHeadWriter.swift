/// Writes a `requestHead` frame field by field, straight from the front's own
/// buffers (the client request's head bytes): the same bytes as
/// `FrameEncoder.encode(.requestHead(id:, head))`, without first building a
/// `RequestHead` — two arrays per header plus the strings — that the encoder
/// copies once more. The front sends one per request, through a `ByteCursor`
/// over memory sized by `RequestHeadWriter.fixedBytes` plus its fields.
///
/// Use: `init`, then `header` for each header in order, then `end`.
public struct RequestHeadWriter {
    /// What a head frame takes besides its variable fields: the frame header,
    /// the version and the fixed-size fields, and the length prefixes of the
    /// method, target, remote address, server name and scheme.
    public static let fixedBytes = 9 + 2 + 4 + 2 + 2 + 4 + 5 * 4
    /// What each header takes besides its name and value: their lengths.
    public static let bytesPerHeader = 8

    /// Appends a whole `requestHead` frame (what `FrameEncoder.encode` uses).
    static func write(id: UInt32, _ head: RequestHead, into buffer: inout [UInt8]) {
        var capacity = fixedBytes + head.method.utf8.count + head.target.count + head.remoteAddress.utf8.count
            + head.serverName.utf8.count + head.scheme.utf8.count
        for header in head.headers { capacity += bytesPerHeader + header.name.count + header.value.count }
        ByteCursor.withBytes(capacity: capacity, { frame in
            var writer = head.target.withUnsafeBytes { target in
                RequestHeadWriter(
                    id: id, method: head.method, target: target, versionMajor: head.versionMajor,
                    versionMinor: head.versionMinor, into: &frame)
            }
            for header in head.headers {
                header.name.withUnsafeBytes { name in
                    header.value.withUnsafeBytes { value in writer.header(name: name, value: value, into: &frame) }
                }
            }
            Array(head.remoteAddress.utf8).withUnsafeBytes { remoteAddress in
                Array(head.serverName.utf8).withUnsafeBytes { serverName in
                    writer.end(
                        remoteAddress: remoteAddress, remotePort: head.remotePort, serverName: serverName,
                        serverPort: head.serverPort, scheme: head.scheme, timeoutMillis: head.timeoutMillis, into: &frame)
                }
            }
        }, done: { buffer.append(contentsOf: $0.assumingMemoryBound(to: UInt8.self)) })
    }

    private let start: Int
    private let countOffset: Int
    private var count: UInt32 = 0

    /// Writes the frame's header, method, target and version.
    public init(
        id: UInt32, method: String, target: UnsafeRawBufferPointer, versionMajor: UInt8, versionMinor: UInt8,
        into frame: inout ByteCursor
    ) {
        start = frame.count
        frame.putU32(0)  // length, patched by `end`
        frame.put(FrameKind.requestHead.rawValue)
        frame.putU32(id)
        Self.putString(method, into: &frame)
        frame.putU32(UInt32(target.count))
        frame.put(target)
        frame.put(versionMajor)
        frame.put(versionMinor)
        countOffset = frame.count
        frame.putU32(0)  // header count, patched by `end`
    }

    /// Writes one header.
    public mutating func header(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, into frame: inout ByteCursor) {
        frame.putU32(UInt32(name.count))
        frame.put(name)
        frame.putU32(UInt32(value.count))
        frame.put(value)
        count += 1
    }

    /// Writes one header given as text.
    public mutating func header(_ name: StaticString, _ value: String, into frame: inout ByteCursor) {
        frame.putU32(UInt32(name.utf8CodeUnitCount))
        frame.put(name)
        Self.putString(value, into: &frame)
        count += 1
    }

    /// Writes one header with a fixed name.
    public mutating func header(_ name: StaticString, value: UnsafeRawBufferPointer, into frame: inout ByteCursor) {
        header(name: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount), value: value, into: &frame)
    }

    /// Writes the fields after the headers and patches the counts.
    public func end(
        remoteAddress: UnsafeRawBufferPointer, remotePort: UInt16, serverName: UnsafeRawBufferPointer,
        serverPort: UInt16, scheme: String, timeoutMillis: UInt32, into frame: inout ByteCursor
    ) {
        frame.putU32(UInt32(remoteAddress.count))
        frame.put(remoteAddress)
        frame.putU16(remotePort)
        frame.putU32(UInt32(serverName.count))
        frame.put(serverName)
        frame.putU16(serverPort)
        Self.putString(scheme, into: &frame)
        frame.putU32(timeoutMillis)
        frame.setU32(count, at: countOffset)
        frame.setU32(UInt32(frame.count - start - 4), at: start)
    }

    /// A length-prefixed string.
    private static func putString(_ text: String, into frame: inout ByteCursor) {
        var text = text
        text.withUTF8 { utf8 in
            frame.putU32(UInt32(utf8.count))
            frame.put(UnsafeRawBufferPointer(utf8))
        }
    }
}
