import Testing
@testable import TidepoolCore

@Suite struct ChunkSizeLineTests {
    @Test(arguments: [
        ("0", Int64(0)), ("5", 5), ("a", 10), ("FF", 255), ("ff", 255), ("00010", 16),
        ("5;ext", 5), ("5;name=value", 5), ("5 ;name=value", 5), ("5\t;a;b=\"c d\"", 5), ("5;a\tb", 5),
        ("7fffffffffffffff", Int64.max),
        ("0000000000000000000001", 1),
    ])
    func validSizes(line: String, size: Int64) {
        #expect(ChunkSizeLine.parse(Array(line.utf8)) == .size(size))
    }

    @Test(arguments: [
        "", "zz", "-5", "+5", " 5", "0x5", "5\t", "5 ", "5 ext=1", "5x", "5 ;a\u{1}b", "5;\u{7f}", "g",
        "8000000000000000", "ffffffffffffffffff", "\u{0}5",
    ])
    func invalidSizes(line: String) {
        guard case .invalid = ChunkSizeLine.parse(Array(line.utf8)) else {
            Issue.record("\(line.debugDescription) accepted"); return
        }
    }
}
