/// The size line that opens each chunk of a chunked body (RFC 9112 §7.1):
/// `1*HEXDIG`, then optionally chunk extensions, which start with optional
/// whitespace and `;` (`5;name=value`, `5 ;a;b="c d"`) and are ignored.
/// Anything else after the size (`5 junk`, a lone `5 `) is refused: a
/// lenient size line is where request smuggling hides.
public enum ChunkSizeLine {
    public enum Parsed: Equatable, Sendable {
        case size(Int64)
        case invalid(reason: String)
    }

    /// `line` without its line ending.
    public static func parse(_ line: some Collection<UInt8>) -> Parsed {
        var value: Int64 = 0
        var digits = 0
        var index = line.startIndex
        while index != line.endIndex, let digit = hexValue(line[index]) {
            let (shifted, overflow) = value.multipliedReportingOverflow(by: 16)
            if overflow { return .invalid(reason: "chunk size out of range") }
            value = shifted + Int64(digit)
            digits += 1
            index = line.index(after: index)
        }
        if digits == 0 { return .invalid(reason: "chunk size is not a hexadecimal number") }
        while index != line.endIndex, line[index] == 0x20 || line[index] == 0x09 { index = line.index(after: index) }
        if index != line.endIndex {
            if line[index] != UInt8(ascii: ";") { return .invalid(reason: "unexpected byte after the chunk size") }
            if line[index...].contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7f }) {
                return .invalid(reason: "control character in a chunk extension")
            }
        } else if digits != line.count {
            return .invalid(reason: "whitespace after the chunk size without an extension")
        }
        return .size(value)
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}
