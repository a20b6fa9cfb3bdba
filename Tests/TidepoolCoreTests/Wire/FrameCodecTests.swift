import Testing
@testable import TidepoolCore

@Suite struct FrameCodecTests {
    private func decode(_ bytes: [UInt8]) throws(FrameError) -> (frame: Frame, consumed: Int)? {
        var result: Result<(frame: Frame, consumed: Int)?, FrameError> = .success(nil)
        bytes.withUnsafeBytes { raw in
            do throws(FrameError) { result = .success(try FrameDecoder.decode(raw)) } catch { result = .failure(error) }
        }
        return try result.get()
    }

    @Test(arguments: FrameSamples.all)
    func roundTripsEveryKind(_ frame: Frame) throws {
        let bytes = FrameEncoder.encode(frame)
        let decoded = try #require(try decode(bytes))
        #expect(decoded.frame == frame)
        #expect(decoded.consumed == bytes.count)
    }

    @Test func everyKindHasASample() {
        let sampled = Set(FrameSamples.all.map(\.kind))
        #expect(sampled == Set(FrameKind.allCases))
    }

    @Test(arguments: FrameSamples.all)
    func everyTruncationIsIncompleteNeverAFrame(_ frame: Frame) throws {
        let bytes = FrameEncoder.encode(frame)
        for cut in 0..<bytes.count {
            #expect(try decode(Array(bytes[..<cut])) == nil, "cut at \(cut) of \(bytes.count)")
        }
    }

    /// A frame whose length prefix claims less than its fields need must be an
    /// error, not a read past the frame into the next one.
    @Test(arguments: FrameSamples.all)
    func shortenedLengthPrefixIsAnErrorOrAShorterValidFrame(_ frame: Frame) {
        let bytes = FrameEncoder.encode(frame)
        let payload = bytes.count - 4
        for length in 5..<payload {
            var forged = bytes
            forged[0] = UInt8(length >> 24 & 0xFF); forged[1] = UInt8(length >> 16 & 0xFF)
            forged[2] = UInt8(length >> 8 & 0xFF); forged[3] = UInt8(length & 0xFF)
            do {
                if let decoded = try decode(forged) {
                    // Only body frames (whose payload is "the rest") may legally shrink.
                    #expect(decoded.consumed == 4 + length)
                    #expect([.requestBody, .responseBody].contains(frame.kind), "\(frame.kind) accepted length \(length)")
                }
            } catch {
                // Expected for structured payloads.
            }
        }
    }

    @Test func concatenatedFramesDecodeInOrder() throws {
        var stream: [UInt8] = []
        for frame in FrameSamples.all { FrameEncoder.encode(frame, into: &stream) }
        stream.append(contentsOf: [0, 0, 0])  // the start of a next frame
        let (frames, consumed) = try stream.withUnsafeBytes { raw throws(FrameError) in try FrameDecoder.decodeAll(raw) }
        #expect(frames == FrameSamples.all)
        #expect(consumed == stream.count - 3)
    }

    @Test func bodyEncodingFromRawMemoryMatchesTheEnum() {
        let body = Array("streamed chunk".utf8)
        var direct: [UInt8] = []
        body.withUnsafeBytes { FrameEncoder.encodeBody(kind: .responseBody, id: 5, bytes: $0, into: &direct) }
        #expect(direct == FrameEncoder.encode(.responseBody(id: 5, body)))
    }

    @Test func lengthBelowMinimumIsRejected() {
        #expect(throws: FrameError.badLength(4)) { try decode([0, 0, 0, 4, 11, 0, 0, 0, 0]) }
        #expect(throws: FrameError.badLength(0)) { try decode([0, 0, 0, 0]) }
    }

    @Test func lengthAboveMaximumIsRejectedBeforeTheBytesArrive() {
        let length = FrameDecoder.maxFrameLength + 1
        let prefix: [UInt8] = [UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
        #expect(throws: FrameError.badLength(length)) { try decode(prefix) }
    }

    @Test func unknownKindIsRejected() {
        #expect(throws: FrameError.unknownKind(200)) { try decode([0, 0, 0, 5, 200, 0, 0, 0, 0]) }
        #expect(throws: FrameError.unknownKind(0)) { try decode([0, 0, 0, 5, 0, 0, 0, 0, 0]) }
    }

    @Test func trailingBytesAreRejected() {
        var bytes = FrameEncoder.encode(.drain)
        bytes.append(0xEE)
        bytes[3] += 1
        #expect(throws: FrameError.trailingBytes(kind: .drain, count: 1)) { try decode(bytes) }
    }

    @Test func invalidEnumTagsAndUTF8AreRejected() {
        var ready = FrameEncoder.encode(.ready(Ready(pid: 1, kind: .spawn, threads: 1, phases: [])))
        ready[13] = 9  // start kind
        #expect(throws: FrameError.invalidField(kind: .ready, field: "start kind")) { try decode(ready) }

        var log = FrameEncoder.encode(.log(LogRecord(level: .info, message: "ab")))
        log[9] = 7  // level
        #expect(throws: FrameError.invalidField(kind: .log, field: "level")) { try decode(log) }

        var failed = FrameEncoder.encode(.failed(StartFailure(phase: "x", message: "y")))
        failed[13] = 0xFF  // "x" → invalid UTF-8
        #expect(throws: FrameError.invalidField(kind: .failed, field: "phase")) { try decode(failed) }

        var end = FrameEncoder.encode(.responseEnd(id: 1, ResponseEnd(cpuNanos: 0, wallNanos: 0)))
        end[25] = 2  // outcome tag
        #expect(throws: FrameError.invalidField(kind: .responseEnd, field: "outcome")) { try decode(end) }
    }

    /// A forged header count must fail on the bytes present, not reserve memory for it.
    @Test func forgedCountsAreBoundedByTheBytesPresent() {
        var bytes = FrameEncoder.encode(.responseHead(id: 1, ResponseHead(status: 200, reason: "", headers: [])))
        let countOffset = bytes.count - 4
        for i in 0..<4 { bytes[countOffset + i] = 0xFF }
        #expect(throws: FrameError.truncated(kind: .responseHead, field: "headers")) { try decode(bytes) }
    }

    /// Random streams (seeded, so a failure reproduces) never crash or hang the
    /// decoder: every outcome is a frame, "need more bytes" or a typed error.
    @Test func randomBytesNeverCrash() {
        var rng = SplitMix64(seed: 0x7D1E_9001)
        var decodedFrames = 0
        for round in 0..<20_000 {
            let count = Int(rng.next() % 64)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if round % 2 == 0, count >= 5 {
                // Plausible header: small length and a real kind, so payload parsing is exercised.
                let length = UInt32(count - 4)
                bytes[0] = 0; bytes[1] = 0; bytes[2] = UInt8(length >> 8); bytes[3] = UInt8(length & 0xFF)
                bytes[4] = UInt8(1 + rng.next() % UInt64(FrameKind.allCases.count))
            }
            if let decoded = try? decode(bytes) { decodedFrames += 1; #expect(decoded.consumed <= bytes.count) }
        }
        #expect(decodedFrames > 0)
    }

    /// Mutating single bytes of valid frames is the nastiest input: almost right.
    @Test func mutatedValidFramesNeverCrash() {
        var rng = SplitMix64(seed: 42)
        for frame in FrameSamples.all {
            let bytes = FrameEncoder.encode(frame)
            for _ in 0..<300 {
                var mutated = bytes
                let index = Int(rng.next() % UInt64(bytes.count))
                mutated[index] = UInt8(truncatingIfNeeded: rng.next())
                if let decoded = try? decode(mutated) { #expect(decoded.consumed <= mutated.count) }
            }
        }
    }
}
