/// Headers already in their wire form (`u32 count`, then each name and value
/// length-prefixed), built as the instance validates the app's
/// `start_response` headers: the bytes are copied once, from the Python
/// strings into the block, instead of into a `[Header]` of arrays first.
public struct HeaderBlock: Sendable, Equatable {
    /// The encoded block, count included.
    public private(set) var bytes: [UInt8] = [0, 0, 0, 0]
    public private(set) var count = 0

    public init() {
        bytes.reserveCapacity(128)
    }

    /// Appends one header (the caller has validated it).
    public mutating func append(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        bytes.appendU32(UInt32(name.count))
        bytes.appendRaw(name)
        bytes.appendU32(UInt32(value.count))
        bytes.appendRaw(value)
        count += 1
        bytes.setU32(UInt32(count), at: 0)
    }
}

extension FrameEncoder {
    /// Appends a `responseHead` frame whose headers are a `HeaderBlock`: the
    /// same bytes as `encode(.responseHead(...))` with those headers.
    public static func encodeResponseHead(id: UInt32, status: UInt16, reason: String, headers: HeaderBlock, into buffer: inout [UInt8]) {
        let length = 5 + 2 + 4 + reason.utf8.count + headers.bytes.count
        buffer.appendU32(UInt32(length))
        buffer.append(FrameKind.responseHead.rawValue)
        buffer.appendU32(id)
        buffer.appendU16(status)
        buffer.appendString(reason)
        buffer.append(contentsOf: headers.bytes)
    }
}
