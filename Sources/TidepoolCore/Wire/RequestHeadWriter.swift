/// Writes a `requestHead` frame field by field, straight from the front's own
/// buffers (the client request's head bytes): the same bytes as
/// `FrameEncoder.encode(.requestHead(id:, head))`, without first building a
/// `RequestHead` — two arrays per header plus the strings — that the encoder
/// copies once more. The front sends one per request.
///
/// Use: `begin`, then `header` for each header in order, then `end`.
public struct RequestHeadWriter {
    /// Appends a whole `requestHead` frame (what `FrameEncoder.encode` uses).
    static func write(id: UInt32, _ head: RequestHead, into buffer: inout [UInt8]) {
        var writer = head.target.withUnsafeBytes { target in
            RequestHeadWriter(
                id: id, method: head.method, target: target, versionMajor: head.versionMajor,
                versionMinor: head.versionMinor, into: &buffer)
        }
        for header in head.headers {
            header.name.withUnsafeBytes { name in
                header.value.withUnsafeBytes { value in writer.header(name: name, value: value, into: &buffer) }
            }
        }
        Array(head.remoteAddress.utf8).withUnsafeBytes { remoteAddress in
            Array(head.serverName.utf8).withUnsafeBytes { serverName in
                writer.end(
                    remoteAddress: remoteAddress, remotePort: head.remotePort, serverName: serverName,
                    serverPort: head.serverPort, scheme: head.scheme, timeoutMillis: head.timeoutMillis, into: &buffer)
            }
        }
    }

    private let start: Int
    private let countOffset: Int
    private var count: UInt32 = 0

    /// Appends the frame's header, method, target and version to `buffer`.
    public init(
        id: UInt32, method: String, target: UnsafeRawBufferPointer, versionMajor: UInt8, versionMinor: UInt8,
        into buffer: inout [UInt8]
    ) {
        start = buffer.count
        buffer.appendU32(0)  // length, patched by `end`
        buffer.append(FrameKind.requestHead.rawValue)
        buffer.appendU32(id)
        buffer.appendString(method)
        buffer.appendU32(UInt32(target.count))
        buffer.appendRaw(target)
        buffer.append(versionMajor)
        buffer.append(versionMinor)
        countOffset = buffer.count
        buffer.appendU32(0)  // header count, patched by `end`
    }

    /// Appends one header.
    public mutating func header(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, into buffer: inout [UInt8]) {
        buffer.appendU32(UInt32(name.count))
        buffer.appendRaw(name)
        buffer.appendU32(UInt32(value.count))
        buffer.appendRaw(value)
        count += 1
    }

    /// Appends one header given as text.
    public mutating func header(_ name: StaticString, _ value: String, into buffer: inout [UInt8]) {
        buffer.appendU32(UInt32(name.utf8CodeUnitCount))
        buffer.appendRaw(UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        buffer.appendString(value)
        count += 1
    }

    /// Appends one header with a fixed name.
    public mutating func header(_ name: StaticString, value: UnsafeRawBufferPointer, into buffer: inout [UInt8]) {
        header(name: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount), value: value, into: &buffer)
    }

    /// Appends the fields after the headers and patches the counts.
    public func end(
        remoteAddress: UnsafeRawBufferPointer, remotePort: UInt16, serverName: UnsafeRawBufferPointer,
        serverPort: UInt16, scheme: String, timeoutMillis: UInt32, into buffer: inout [UInt8]
    ) {
        buffer.appendU32(UInt32(remoteAddress.count))
        buffer.appendRaw(remoteAddress)
        buffer.appendU16(remotePort)
        buffer.appendU32(UInt32(serverName.count))
        buffer.appendRaw(serverName)
        buffer.appendU16(serverPort)
        buffer.appendString(scheme)
        buffer.appendU32(timeoutMillis)
        buffer.setU32(count, at: countOffset)
        buffer.setU32(UInt32(buffer.count - start - 4), at: start)
    }
}
