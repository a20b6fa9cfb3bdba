/// Why a channel's bytes are not a valid frame. Any of these closes the channel:
/// the peer is broken or hostile, and guessing where the next frame starts would
/// only spread the damage.
public enum FrameError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The length prefix is below the 5-byte minimum or above `FrameDecoder.maxFrameLength`.
    case badLength(UInt32)
    case unknownKind(UInt8)
    /// The payload ended before a field was complete.
    case truncated(kind: FrameKind, field: String)
    /// The payload had bytes left over after its last field.
    case trailingBytes(kind: FrameKind, count: Int)
    /// A field held a value outside its range (an unknown enum tag, invalid UTF-8…).
    case invalidField(kind: FrameKind, field: String)

    public var description: String {
        switch self {
        case .badLength(let length):
            "frame length \(length) is outside 5...\(FrameDecoder.maxFrameLength)"
        case .unknownKind(let kind):
            "unknown frame kind \(kind)"
        case .truncated(let kind, let field):
            "\(kind) frame ends inside its \(field) field"
        case .trailingBytes(let kind, let count):
            "\(kind) frame has \(count) unexpected trailing bytes"
        case .invalidField(let kind, let field):
            "\(kind) frame has an invalid \(field) field"
        }
    }
}

/// Reads frames in the wire format described on `Frame`.
public enum FrameDecoder {
    /// The largest frame either end accepts (16 MiB). Bodies are split into
    /// chunks well below it, so only a corrupt stream comes near.
    public static let maxFrameLength: UInt32 = 16 << 20

    /// The total size (prefix included) of the frame that starts `bytes`, or nil
    /// when fewer than 4 bytes are there. Lets a reader wait for a whole frame
    /// before copying anything.
    public static func frameSize(_ bytes: UnsafeRawBufferPointer) throws(FrameError) -> Int? {
        guard bytes.count >= 4 else { return nil }
        let length = UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3])
        guard length >= 5, length <= maxFrameLength else { throw .badLength(length) }
        return 4 + Int(length)
    }

    /// Decodes the frame at the start of `bytes`. Returns nil when the frame is
    /// not complete yet, otherwise the frame and how many bytes it used.
    public static func decode(_ bytes: UnsafeRawBufferPointer) throws(FrameError) -> (frame: Frame, consumed: Int)? {
        guard let size = try frameSize(bytes), bytes.count >= size else { return nil }
        let kindByte = bytes[4]
        guard let kind = FrameKind(rawValue: kindByte) else { throw .unknownKind(kindByte) }
        var reader = ByteReader(bytes: UnsafeRawBufferPointer(rebasing: bytes[5..<size]), kind: kind)
        let id = try reader.u32("id")
        let frame = try decodePayload(kind: kind, id: id, reader: &reader)
        guard reader.remaining == 0 else { throw .trailingBytes(kind: kind, count: reader.remaining) }
        return (frame, size)
    }

    /// Decodes every complete frame in `bytes`; returns them and the bytes used.
    public static func decodeAll(_ bytes: UnsafeRawBufferPointer) throws(FrameError) -> (frames: [Frame], consumed: Int) {
        var frames: [Frame] = []
        var offset = 0
        while let (frame, used) = try decode(UnsafeRawBufferPointer(rebasing: bytes[offset...])) {
            frames.append(frame)
            offset += used
        }
        return (frames, offset)
    }

    private static func decodePayload(kind: FrameKind, id: UInt32, reader: inout ByteReader) throws(FrameError) -> Frame {
        switch kind {
        case .ready:
            let pid = Int32(bitPattern: try reader.u32("pid"))
            let kindTag = try reader.u8("start kind")
            guard let startKind = StartKind(rawValue: kindTag) else { throw .invalidField(kind: kind, field: "start kind") }
            let threads = try reader.u32("threads")
            let count = try reader.count("phases", minimumElementSize: 12)
            var phases: [StartPhase] = []
            phases.reserveCapacity(count)
            for _ in 0..<count {
                phases.append(StartPhase(name: try reader.string("phase name"), nanos: try reader.u64("phase nanos")))
            }
            return .ready(Ready(pid: pid, kind: startKind, threads: threads, phases: phases))
        case .requestHead:
            // One description of the layout: `RequestHeadView`, which the instance decodes with.
            let payload = try reader.take(reader.remaining, "request head")
            return .requestHead(id: id, try RequestHeadView(payload: payload).head)
        case .requestBody:
            return .requestBody(id: id, reader.rest())
        case .requestEnd:
            return .requestEnd(id: id)
        case .responseHead:
            let status = try reader.u16("status")
            let reason = try reader.string("reason")
            let headers = try HeaderBlock(reading: &reader)
            return .responseHead(id: id, ResponseHead(status: status, reason: reason, headers: headers))
        case .responseBody:
            return .responseBody(id: id, reader.rest())
        case .responseEnd:
            let cpu = try reader.u64("cpu")
            let wall = try reader.u64("wall")
            let outcome: ResponseEnd.Outcome
            switch try reader.u8("outcome") {
            case 0: outcome = .complete
            case 1: outcome = .aborted(reason: try reader.string("reason"))
            default: throw .invalidField(kind: kind, field: "outcome")
            }
            return .responseEnd(id: id, ResponseEnd(cpuNanos: cpu, wallNanos: wall, outcome: outcome))
        case .cancel:
            return .cancel(id: id)
        case .log:
            let levelTag = try reader.u8("level")
            guard let level = LogRecord.Level(rawValue: levelTag) else { throw .invalidField(kind: kind, field: "level") }
            return .log(LogRecord(level: level, message: try reader.string("message")))
        case .stats:
            return .stats(InstanceStats(
                rssBytes: try reader.u64("rss"), cpuNanos: try reader.u64("cpu"), inFlight: try reader.u32("in flight")
            ))
        case .drain:
            return .drain
        case .forkInstance:
            return .forkInstance(instanceID: id)
        case .forked:
            return .forked(instanceID: id, pid: Int32(bitPattern: try reader.u32("pid")))
        case .failed:
            return .failed(StartFailure(phase: try reader.string("phase"), message: try reader.string("message")))
        }
    }
}

/// A bounds-checked cursor over one frame's payload.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let kind: FrameKind
    var offset = 0

    init(bytes: UnsafeRawBufferPointer, kind: FrameKind) {
        self.bytes = bytes
        self.kind = kind
    }

    var remaining: Int { bytes.count - offset }

    mutating func take(_ count: Int, _ field: String) throws(FrameError) -> UnsafeRawBufferPointer {
        guard count >= 0, remaining >= count else { throw .truncated(kind: kind, field: field) }
        defer { offset += count }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + count)])
    }

    mutating func u8(_ field: String) throws(FrameError) -> UInt8 {
        try take(1, field)[0]
    }

    mutating func u16(_ field: String) throws(FrameError) -> UInt16 {
        let b = try take(2, field)
        return UInt16(b[0]) << 8 | UInt16(b[1])
    }

    mutating func u32(_ field: String) throws(FrameError) -> UInt32 {
        let b = try take(4, field)
        return UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3])
    }

    mutating func u64(_ field: String) throws(FrameError) -> UInt64 {
        UInt64(try u32(field)) << 32 | UInt64(try u32(field))
    }

    /// An element count, checked against the bytes left so a forged count cannot
    /// make the decoder reserve gigabytes.
    mutating func count(_ field: String, minimumElementSize: Int) throws(FrameError) -> Int {
        let count = Int(try u32(field))
        guard count * minimumElementSize <= remaining else { throw .truncated(kind: kind, field: field) }
        return count
    }

    mutating func string(_ field: String) throws(FrameError) -> String {
        let length = Int(try u32(field))
        let raw = try take(length, field)
        // The reason phrase of nearly every response: no validation pass, no new String.
        if raw.count == 2, raw[0] == UInt8(ascii: "O"), raw[1] == UInt8(ascii: "K") { return "OK" }
        guard let string = String(validating: raw, as: UTF8.self) else {
            throw .invalidField(kind: kind, field: field)
        }
        return string
    }

    mutating func rest() -> [UInt8] {
        defer { offset = bytes.count }
        return Array(UnsafeRawBufferPointer(rebasing: bytes[offset...]))
    }
}
