import Testing
@testable import TidepoolCore

@Suite struct Latin1Tests {
    @Test func everyByteRoundTrips() {
        let all = (0...255).map(UInt8.init)
        let string = Latin1.string(all)
        #expect(string.unicodeScalars.count == 256)
        #expect(Latin1.bytes(string) == all)
    }

    @Test func utf8BytesBecomeOneCharacterEach() {
        // PEP 3333: "/café" sent as UTF-8 reaches the app as the latin-1 reading of its bytes.
        #expect(Latin1.string(Array("café".utf8)) == "caf\u{C3}\u{A9}")
    }

    @Test func codePointsAboveFFHaveNoLatin1Bytes() {
        #expect(Latin1.bytes("€") == nil)
    }

    @Test func headerAccessorsDecodeAsLatin1() {
        let header = Header(name: [0x58], value: [0xE9])
        #expect(header.nameString == "X")
        #expect(header.valueString == "é")
    }
}
