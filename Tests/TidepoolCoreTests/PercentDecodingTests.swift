import Testing
@testable import TidepoolCore

@Suite struct PercentDecodingTests {
    private func decode(_ s: String) -> [UInt8] { PercentDecoding.decode(Array(s.utf8)[...]) }

    @Test func escapesBecomeBytesInEitherCase() {
        #expect(decode("/caf%C3%A9") == Array("/café".utf8))
        #expect(decode("%2e%2E%2f") == Array("../".utf8))
        #expect(decode("%00") == [0])
        #expect(decode("%ff") == [0xFF])
    }

    @Test func malformedEscapesStayLiteral() {
        #expect(decode("%") == Array("%".utf8))
        #expect(decode("%4") == Array("%4".utf8))
        #expect(decode("%zz%4g") == Array("%zz%4g".utf8))
        #expect(decode("100%") == Array("100%".utf8))
    }

    @Test func plusIsNotASpaceInPaths() {
        #expect(decode("/a+b") == Array("/a+b".utf8))
    }

    @Test func slicesKeepTheirOwnIndices() {
        let bytes = Array("xx/%41".utf8)
        #expect(PercentDecoding.decode(bytes[2...]) == Array("/A".utf8))
    }
}
