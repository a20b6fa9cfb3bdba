/// Headers already in their wire form (`u32 count`, then each name and value
/// length-prefixed), built as the instance validates the app's
/// `start_response` headers: the bytes are copied once, from the Python
/// strings into the block, instead of into a `[Header]` of arrays first.
public struct HeaderBlock: Sendable, Equatable {
    /// The encoded block, count included.
    public private(set) var bytes: [UInt8] = [0, 0, 0, 0]
    public private(set) var count = 0

    public init() {}

    /// Appends one header (the caller has validated it).
    public mutating func append(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        bytes.reserveCapacity(Swift.max(128, bytes.count + 8 + name.count + value.count))
        bytes.appendU32(UInt32(name.count))
        bytes.appendRaw(name)
        bytes.appendU32(UInt32(value.count))
        bytes.appendRaw(value)
        count += 1
        let count = UInt32(count)
        bytes[0] = UInt8(truncatingIfNeeded: count >> 24)
        bytes[1] = UInt8(truncatingIfNeeded: count >> 16)
        bytes[2] = UInt8(truncatingIfNeeded: count >> 8)
        bytes[3] = UInt8(truncatingIfNeeded: count)
    }
}

extension FrameEncoder {
    /// Appends a `responseHead` frame whose headers are a `HeaderBlock`: the
    /// same bytes as `encode(.responseHead(...))` with those headers.
    public static func encodeResponseHead(id: UInt32, status: UInt16, reason: String, headers: HeaderBlock, into buffer: inout [UInt8]) {
        let length = 5 + 2 + 4 + reason.utf8.count + headers.bytes.count
        buffer.reserveCapacity(buffer.count + 4 + length)
        buffer.appendU32(UInt32(length))
        buffer.append(FrameKind.responseHead.rawValue)
        buffer.appendU32(id)
        buffer.appendU16(status)
        buffer.appendString(reason)
        buffer.append(contentsOf: headers.bytes)
    }
}
