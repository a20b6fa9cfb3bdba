import Testing
@testable import TidepoolCore

/// `FrameDecoder.decodeInbound` must accept and reject exactly what `decode`
/// does, and a `RequestHeadView` must hold the same head.
@Suite struct RequestHeadViewTests {
    /// What a decoder made of some bytes, comparable across the two decoders.
    private enum Outcome: Equatable {
        case incomplete
        case frame(Frame, consumed: Int)
        case error(FrameError)
    }

    private func plain(_ bytes: [UInt8]) -> Outcome {
        bytes.withUnsafeBytes { raw in
            do throws(FrameError) {
                guard let (frame, used) = try FrameDecoder.decode(raw) else { return .incomplete }
                return .frame(frame, consumed: used)
            } catch { return .error(error) }
        }
    }

    private func inbound(_ bytes: [UInt8]) -> Outcome {
        bytes.withUnsafeBytes { raw in
            do throws(FrameError) {
                guard let (frame, used) = try FrameDecoder.decodeInbound(raw) else { return .incomplete }
                switch frame {
                case .requestHead(let id, let view): return .frame(.requestHead(id: id, view.head), consumed: used)
                case .frame(let frame): return .frame(frame, consumed: used)
                }
            } catch { return .error(error) }
        }
    }

    @Test(arguments: FrameSamples.all)
    func agreesWithDecodeOnEverySample(_ frame: Frame) {
        let bytes = FrameEncoder.encode(frame)
        #expect(inbound(bytes) == .frame(frame, consumed: bytes.count))
        #expect(inbound(bytes + [0, 0, 0]) == .frame(frame, consumed: bytes.count))
        for cut in 0..<bytes.count {
            #expect(inbound(Array(bytes[..<cut])) == .incomplete)
        }
    }

    /// Every corruption of a byte (length prefixes, counts, UTF-8, ports)
    /// gives the same frame or the same error from both decoders.
    @Test(arguments: FrameSamples.all.filter { $0.kind == .requestHead })
    func agreesWithDecodeOnCorruptedHeads(_ frame: Frame) {
        let bytes = FrameEncoder.encode(frame)
        for index in 0..<bytes.count {
            for value: UInt8 in [0x00, 0x01, 0x7F, 0x80, 0xC3, 0xFF] {
                var corrupted = bytes
                corrupted[index] = value
                #expect(inbound(corrupted) == plain(corrupted), "byte \(index) = \(value)")
            }
        }
    }

    @Test func fieldsAndHelpers() throws {
        let head = RequestHead(
            method: "HEAD", target: Array("/a?b".utf8), headers: [Header("Host", "x"), Header("Accept", "*/*")],
            remoteAddress: "10.0.0.1", remotePort: 5, serverName: "é.example", serverPort: 8080, scheme: "https"
        )
        let bytes = FrameEncoder.encode(.requestHead(id: 3, head))
        let view = try #require(bytes.withUnsafeBytes { raw -> RequestHeadView? in
            guard case .requestHead(_, let view)? = try? FrameDecoder.decodeInbound(raw)?.frame else { return nil }
            return view
        })
        #expect(view.methodIs("HEAD"))
        #expect(!view.methodIs("GET"))
        #expect(!view.methodIs("HEADS"))
        #expect(view.string(view.serverName) == "é.example")
        #expect(Array(view.payload[view.target]) == Array("/a?b".utf8))
        var names: [String] = []
        view.forEachHeader { name, value in names.append(Latin1.string(view.payload[name]) + "=" + Latin1.string(view.payload[value])) }
        #expect(names == ["Host=x", "Accept=*/*"])
        #expect(view.head == head)
    }
}

@Suite struct HeaderBlockTests {
    static let samples: [[Header]] = [
        [],
        [Header("content-type", "text/plain")],
        [Header("Content-Length", "5"), Header(name: [0xFF, 0x41], value: []), Header("", "")],
    ]

    /// The wire layout, written out by hand: `u32 count`, then each name and value `u32`-length-prefixed.
    static func wire(_ headers: [Header]) -> [UInt8] {
        func u32(_ n: Int) -> [UInt8] { [UInt8(n >> 24 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] }
        return u32(headers.count) + headers.flatMap { u32($0.name.count) + $0.name + u32($0.value.count) + $0.value }
    }

    @Test(arguments: samples)
    func encodesTheWireLayout(_ headers: [Header]) {
        var block = HeaderBlock()
        for header in headers {
            header.name.withUnsafeBytes { name in header.value.withUnsafeBytes { value in block.append(name: name, value: value) } }
        }
        #expect(block.count == headers.count)
        #expect(block.bytes == Self.wire(headers))
        #expect(HeaderBlock(headers) == block)
        var direct: [UInt8] = [1, 2]
        FrameEncoder.encodeResponseHead(id: 77, status: 404, reason: "Nöt Found", headers: block, into: &direct)
        let reason = Array("Nöt Found".utf8)
        let payload = [0, 0, 0, 77, 0x01, 0x94, 0, 0, 0, UInt8(reason.count)] + reason + Self.wire(headers)
        let length = payload.count + 1
        #expect(direct == [1, 2, 0, 0, UInt8(length >> 8), UInt8(length & 0xFF), FrameKind.responseHead.rawValue] + payload)
    }

    /// Decoding reads exactly one block at the start and reads it back in
    /// order; a block cut anywhere is refused.
    /// The block at the start of `bytes`, as the frame decoder reads it (nil: refused).
    static func decode(_ bytes: [UInt8]) -> HeaderBlock? {
        bytes.withUnsafeBytes { raw in
            var reader = ByteReader(bytes: raw, kind: .responseHead)
            return try? HeaderBlock(reading: &reader)
        }
    }

    @Test(arguments: samples)
    func decodesWhatItEncodes(_ headers: [Header]) {
        let wire = Self.wire(headers)
        let block = Self.decode(wire + [9, 9, 9])
        #expect(block?.bytes == wire)
        #expect(block?.count == headers.count)
        var read: [Header] = []
        block?.forEach { read.append(Header(name: Array($0), value: Array($1))) }
        #expect(read == headers)
        for cut in 0..<wire.count {
            #expect(Self.decode(Array(wire.prefix(cut))) == nil, "cut at \(cut)")
        }
    }
}
