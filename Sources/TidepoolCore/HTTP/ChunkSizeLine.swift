/// The size line that opens each chunk of a chunked body (RFC 9112 §7.1):
/// `1*HEXDIG`, optionally followed by a space and anything (the rule the
/// front has applied since evhttp: `5;ext` without the space is refused;
/// no client in practice sends chunk extensions).
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
        if index != line.endIndex {
            if line[index] != 0x20 { return .invalid(reason: "unexpected byte after the chunk size") }
            if line[index...].contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7f }) {
                return .invalid(reason: "control character in a chunk extension")
            }
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
