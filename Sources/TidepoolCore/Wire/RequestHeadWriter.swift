/// Writes a `requestHead` frame field by field, straight from the front's own
/// buffers (evhttp's C strings): the same bytes as
/// `FrameEncoder.encode(.requestHead(id:, head))`, without first building a
/// `RequestHead` — two arrays per header plus the strings — that the encoder
/// copies once more. The front sends one per request.
///
/// Use: `begin`, then `header` for each header in order, then `end`.
public struct RequestHeadWriter {
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
        buffer.append(contentsOf: target)
        buffer.append(versionMajor)
        buffer.append(versionMinor)
        countOffset = buffer.count
        buffer.appendU32(0)  // header count, patched by `end`
    }

    /// Appends one header.
    public mutating func header(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer, into buffer: inout [UInt8]) {
        buffer.appendU32(UInt32(name.count))
        buffer.append(contentsOf: name)
        buffer.appendU32(UInt32(value.count))
        buffer.append(contentsOf: value)
        count += 1
    }

    /// Appends one header given as text.
    public mutating func header(_ name: StaticString, _ value: String, into buffer: inout [UInt8]) {
        buffer.appendU32(UInt32(name.utf8CodeUnitCount))
        buffer.append(contentsOf: UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
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
        buffer.append(contentsOf: remoteAddress)
        buffer.appendU16(remotePort)
        buffer.appendU32(UInt32(serverName.count))
        buffer.append(contentsOf: serverName)
        buffer.appendU16(serverPort)
        buffer.appendString(scheme)
        buffer.appendU32(timeoutMillis)
        Self.patch(&buffer, at: countOffset, count)
        Self.patch(&buffer, at: start, UInt32(buffer.count - start - 4))
    }

    private static func patch(_ buffer: inout [UInt8], at offset: Int, _ value: UInt32) {
        buffer[offset] = UInt8(truncatingIfNeeded: value >> 24)
        buffer[offset + 1] = UInt8(truncatingIfNeeded: value >> 16)
        buffer[offset + 2] = UInt8(truncatingIfNeeded: value >> 8)
        buffer[offset + 3] = UInt8(truncatingIfNeeded: value)
    }
}
