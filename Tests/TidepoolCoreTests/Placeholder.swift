import Testing
@testable import TidepoolCore

@Test func encodesAndDecodesADrainFrame() throws {
    let bytes = FrameEncoder.encode(.drain)
    let decoded = try bytes.withUnsafeBytes { try FrameDecoder.decode($0) }
    #expect(decoded?.frame == .drain)
    #expect(decoded?.consumed == bytes.count)
}
