/// Writes bytes through a pointer into memory the caller reserved for the
/// longest possible result (`withBytes`), then hands the result over in one
/// piece.
///
/// The host formats a few short texts per request (the request frame for the
/// instance, the response head, the access log line). Appended to an `Array` piece by piece, each piece paid a
/// uniqueness and a capacity check and often an out-of-line call: the access
/// log line alone took ~30 appends. Here a piece is a store or a `memcpy`.
/// Inlinable, so the front's calls compile to those stores.
public struct ByteCursor {
    @usableFromInline let start: UnsafeMutablePointer<UInt8>
    @usableFromInline let capacity: Int
    @usableFromInline var position = 0

    /// Runs `body` with a cursor over `capacity` bytes of stack memory (heap
    /// memory when large), then `done` with what it wrote.
    ///
    /// `capacity` must bound what `body` can write for any input: writing
    /// past it traps, and in the host that stops every request. Each caller
    /// states its bound beside the call (the request frame's is 5 times the
    /// client's head: values are repeated and repaired as UTF-8).
    @inlinable @inline(__always)
    public static func withBytes<R>(
        capacity: Int, _ body: (inout ByteCursor) -> Void, done: (UnsafeRawBufferPointer) -> R
    ) -> R {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: capacity) { buffer in
            var cursor = ByteCursor(start: buffer.baseAddress!, capacity: capacity)
            body(&cursor)
            return done(UnsafeRawBufferPointer(start: buffer.baseAddress, count: cursor.position))
        }
    }

    @inlinable @inline(__always)
    init(start: UnsafeMutablePointer<UInt8>, capacity: Int) {
        self.start = start
        self.capacity = capacity
    }

    /// Bytes written so far.
    @inlinable public var count: Int { position }

    @inlinable @inline(__always)
    public mutating func put(_ byte: UInt8) {
        precondition(position < capacity, "ByteCursor: past its capacity")
        start[position] = byte
        position += 1
    }

    @inlinable @inline(__always)
    public mutating func put(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        precondition(bytes.count <= capacity - position, "ByteCursor: past its capacity")
        (start + position).initialize(from: source.assumingMemoryBound(to: UInt8.self), count: bytes.count)
        position += bytes.count
    }

    @inlinable @inline(__always)
    public mutating func put(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { put($0) }
    }

    @inlinable @inline(__always)
    public mutating func put(_ text: StaticString) {
        put(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// Big-endian, as the wire protocol writes lengths and ids.
    @inlinable @inline(__always)
    public mutating func putU32(_ value: UInt32) {
        precondition(4 <= capacity - position, "ByteCursor: past its capacity")
        UnsafeMutableRawPointer(start + position).storeBytes(of: value.bigEndian, as: UInt32.self)
        position += 4
    }

    @inlinable @inline(__always)
    public mutating func putU16(_ value: UInt16) {
        precondition(2 <= capacity - position, "ByteCursor: past its capacity")
        UnsafeMutableRawPointer(start + position).storeBytes(of: value.bigEndian, as: UInt16.self)
        position += 2
    }

    /// Overwrites four bytes at `offset` (a length or count written as a
    /// placeholder before what it counts).
    @inlinable @inline(__always)
    public mutating func setU32(_ value: UInt32, at offset: Int) {
        precondition(offset >= 0 && offset <= position - 4, "ByteCursor: not written yet")
        UnsafeMutableRawPointer(start + offset).storeBytes(of: value.bigEndian, as: UInt32.self)
    }

    /// `value` in decimal, as `String(value)` prints it.
    @inlinable @inline(__always)
    public mutating func putDecimal(_ value: Int) {
        if value < 0 { put(UInt8(ascii: "-")) }
        putDecimal(UInt64(value.magnitude))
    }

    /// `value` in decimal, as `String(value)` prints it.
    @inlinable @inline(__always)
    public mutating func putDecimal(_ value: UInt64) {
        var digits = 1
        var rest = value / 10
        while rest > 0 { digits += 1; rest /= 10 }
        precondition(digits <= capacity - position, "ByteCursor: past its capacity")
        var remaining = value
        for i in stride(from: position + digits - 1, through: position, by: -1) {
            start[i] = UInt8(ascii: "0") + UInt8(remaining % 10)
            remaining /= 10
        }
        position += digits
    }
}
