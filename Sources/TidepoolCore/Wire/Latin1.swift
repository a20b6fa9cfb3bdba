/// ISO-8859-1, the encoding WSGI uses for every "native string" it hands the app:
/// each byte maps to the code point of the same value, so decoding never fails
/// and encoding back gives the original bytes.
public enum Latin1 {
    public static func string<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var scalars = String.UnicodeScalarView()
        for byte in bytes { scalars.append(Unicode.Scalar(byte)) }
        return String(scalars)
    }

    /// The bytes of `string`, or nil when it holds a code point above U+00FF.
    public static func bytes(_ string: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(string.unicodeScalars.count)
        for scalar in string.unicodeScalars {
            guard scalar.value <= 0xFF else { return nil }
            out.append(UInt8(scalar.value))
        }
        return out
    }
}
