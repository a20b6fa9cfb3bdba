import CPython
import Glibc

/// The few `str` objects last made from one UTF-8 field of the request head
/// (method, host name, scheme, client address): a value seen again is shared
/// instead of decoded again. Bounded: when full, the oldest entry makes room.
///
/// Strings are immutable, so sharing one between requests is invisible to apps.
final class RecentStrings: @unchecked Sendable {
    // Invariant: used only with the GIL held (which also guards the
    // references it owns).
    private var entries: [(bytes: [UInt8], object: PyObjectPointer)] = []
    private var oldest = 0
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    /// A new reference to `str(bytes, "utf-8")` (the head's UTF-8 fields are
    /// validated by the decoder), or nil with a Python error set.
    func string(_ bytes: ArraySlice<UInt8>) -> PyObjectPointer? {
        for entry in entries where RecentStrings.equal(entry.bytes, bytes) {
            Py_IncRef(entry.object)
            return entry.object
        }
        let made = bytes.withUnsafeBytes { raw in
            PyUnicode_DecodeUTF8(raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count, nil)
        }
        guard let made else { return nil }
        Py_IncRef(made)
        if entries.count < capacity {
            entries.append((Array(bytes), made))
        } else {
            Py_DecRef(entries[oldest].object)
            entries[oldest] = (Array(bytes), made)
            oldest = (oldest + 1) % capacity
        }
        return made
    }

    /// Byte equality by `memcmp` (the generic `==` walks element by element).
    static func equal(_ known: [UInt8], _ bytes: ArraySlice<UInt8>) -> Bool {
        guard known.count == bytes.count else { return false }
        return known.withUnsafeBytes { a in
            bytes.withUnsafeBytes { b in
                a.count == 0 || memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0
            }
        }
    }
}
