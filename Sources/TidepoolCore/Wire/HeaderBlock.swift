/// Headers in their wire form (`u32 count`, then each name and value
/// length-prefixed): one array however many headers there are.
///
/// The instance builds one as it validates the app's `start_response`
/// headers, copying the bytes once from the Python strings; the host decodes
/// a response head's headers into one by copying the section as it checks
/// it, and reads them in place (`forEach`). A `[Header]` cost two arrays per
/// header to make and to free, per response.
public struct HeaderBlock: Sendable, Equatable {
    /// The encoded block, count included.
    public private(set) var bytes: [UInt8] = [0, 0, 0, 0]
    public private(set) var count = 0

    public init() {
        bytes.reserveCapacity(128)
    }

    public init(_ headers: [Header]) {
        self.init()
        for header in headers { append(header) }
    }

    /// The block where `reader` stands, checked field by field as the
    /// request head's headers are (`RequestHeadView`), then copied in one go;
    /// `reader` moves past it.
    init(reading reader: inout ByteReader) throws(FrameError) {
        let start = reader.offset
        count = try reader.count("headers", minimumElementSize: 8)
        for _ in 0..<count {
            _ = try reader.range("header name")
            _ = try reader.range("header value")
        }
        bytes = Array(UnsafeRawBufferPointer(rebasing: reader.bytes[start..<reader.offset]))
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

    public mutating func append(_ header: Header) {
        header.name.withUnsafeBytes { name in header.value.withUnsafeBytes { append(name: name, value: $0) } }
    }

    /// Each name and value in order, as views into the block (valid during `body`).
    /// Inlinable: the host calls it per response, and a closure call per header cost more than the walk.
    @inlinable
    public func forEach(_ body: (_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Void) rethrows {
        try bytes.withUnsafeBytes { raw in
            var offset = 4
            func field() -> UnsafeRawBufferPointer {
                let length = Int(raw[offset]) << 24 | Int(raw[offset + 1]) << 16 | Int(raw[offset + 2]) << 8 | Int(raw[offset + 3])
                defer { offset += 4 + length }
                return UnsafeRawBufferPointer(rebasing: raw[(offset + 4)..<(offset + 4 + length)])
            }
            for _ in 0..<count {
                let name = field()
                try body(name, field())
            }
        }
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
