/// ASCII case-insensitive comparison of raw header names with lowercase
/// constants, for the request parser and the front alike. The per-request
/// header filters used to lowercase every name into a new String first (an
/// allocation and a Unicode case mapping each); for ASCII names the answer
/// is the same.
public enum ASCIICase {
    @inlinable @inline(__always)
    public static func lower(_ byte: UInt8) -> UInt8 {
        byte &- 0x41 < 26 ? byte | 0x20 : byte
    }

    /// `bytes`, ASCII-lowercased, starts with `lowercase`.
    @inlinable
    public static func hasPrefix(_ bytes: UnsafeRawBufferPointer, _ lowercase: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= lowercase.count else { return false }
        for i in 0..<lowercase.count where lower(bytes[i]) != lowercase[i] { return false }
        return true
    }

    /// `bytes`, ASCII-lowercased, equals `lowercase`.
    @inlinable
    public static func equals(_ bytes: UnsafeRawBufferPointer, _ lowercase: UnsafeRawBufferPointer) -> Bool {
        bytes.count == lowercase.count && hasPrefix(bytes, lowercase)
    }

    @inlinable
    public static func equals(_ bytes: UnsafeRawBufferPointer, _ lowercase: StaticString) -> Bool {
        equals(bytes, UnsafeRawBufferPointer(start: lowercase.utf8Start, count: lowercase.utf8CodeUnitCount))
    }

    @inlinable
    public static func isASCII(_ bytes: UnsafeRawBufferPointer) -> Bool {
        !bytes.contains { $0 >= 0x80 }
    }
}
