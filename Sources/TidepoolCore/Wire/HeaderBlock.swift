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

    /// The block at the start of `wire` (its length is `bytes.count`), or nil
    /// when `wire` ends inside it.
    init?(prefixOf wire: UnsafeRawBufferPointer) {
        var offset = 0
        func u32() -> Int? {
            guard wire.count - offset >= 4 else { return nil }
            defer { offset += 4 }
            return Int(wire[offset]) << 24 | Int(wire[offset + 1]) << 16 | Int(wire[offset + 2]) << 8 | Int(wire[offset + 3])
        }
        guard let count = u32() else { return nil }
        for _ in 0..<count {
            for _ in 0..<2 {
                guard let length = u32(), wire.count - offset >= length else { return nil }
                offset += length
            }
        }
        bytes = Array(wire.prefix(offset))
        self.count = count
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

    /// The headers as arrays (tests and cold paths).
    public var headers: [Header] {
        var headers: [Header] = []
        forEach { headers.append(Header(name: Array($0), value: Array($1))) }
        return headers
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
