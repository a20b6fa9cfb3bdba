/// Writes frames in the wire format described on `Frame`.
public enum FrameEncoder {
    /// Bytes of the frame header: length (4), kind (1), id (4).
    public static let headerSize = 9

    /// Appends `frame` to `buffer`. Appending several frames and writing them
    /// in one call is how both ends batch their writes.
    public static func encode(_ frame: Frame, into buffer: inout [UInt8]) {
        if case .requestHead(let id, let head) = frame {
            // One description of the layout: `RequestHeadWriter`, which the front encodes with.
            RequestHeadWriter.write(id: id, head, into: &buffer)
            return
        }
        let start = buffer.count
        buffer.append(contentsOf: [0, 0, 0, 0])  // length, patched below
        buffer.append(frame.kind.rawValue)
        buffer.appendU32(frame.id)
        switch frame {
        case .ready(let ready):
            buffer.appendU32(UInt32(bitPattern: ready.pid))
            buffer.append(ready.kind.rawValue)
            buffer.appendU32(ready.threads)
            buffer.appendU32(UInt32(ready.phases.count))
            for phase in ready.phases {
                buffer.appendString(phase.name)
                buffer.appendU64(phase.nanos)
            }
        case .requestBody(_, let bytes), .responseBody(_, let bytes):
            buffer.append(contentsOf: bytes)
        case .responseHead(_, let head):
            buffer.appendU16(head.status)
            buffer.appendString(head.reason)
            buffer.append(contentsOf: head.headers.bytes)
        case .responseEnd(_, let end):
            buffer.appendU64(end.cpuNanos)
            buffer.appendU64(end.wallNanos)
            switch end.outcome {
            case .complete:
                buffer.append(0)
            case .aborted(let reason):
                buffer.append(1)
                buffer.appendString(reason)
            }
        case .log(let record):
            buffer.append(record.level.rawValue)
            buffer.appendString(record.message)
        case .stats(let stats):
            buffer.appendU64(stats.rssBytes)
            buffer.appendU64(stats.cpuNanos)
            buffer.appendU32(stats.inFlight)
        case .forked(_, let pid):
            buffer.appendU32(UInt32(bitPattern: pid))
        case .failed(let failure):
            buffer.appendString(failure.phase)
            buffer.appendString(failure.message)
        case .requestHead, .requestEnd, .cancel, .drain, .forkInstance:
            break
        }
        buffer.setU32(UInt32(buffer.count - start - 4), at: start)
    }

    /// The frame as a fresh byte array.
    public static func encode(_ frame: Frame) -> [UInt8] {
        var buffer: [UInt8] = []
        encode(frame, into: &buffer)
        return buffer
    }

    /// Writes a `requestEnd` frame: the same bytes as `encode(.requestEnd(id:))`.
    public static func encodeRequestEnd(id: UInt32, into frame: inout ByteCursor) {
        frame.putU32(5)
        frame.put(FrameKind.requestEnd.rawValue)
        frame.putU32(id)
    }

    /// Appends a body frame (`requestBody` or `responseBody`) straight from raw
    /// memory, so large bodies are copied once instead of twice.
    public static func encodeBody(
        kind: FrameKind, id: UInt32, bytes: UnsafeRawBufferPointer, into buffer: inout [UInt8]
    ) {
        precondition(kind == .requestBody || kind == .responseBody, "not a body frame: \(kind)")
        buffer.appendU32(UInt32(5 + bytes.count))
        buffer.append(kind.rawValue)
        buffer.appendU32(id)
        buffer.appendRaw(bytes)
    }
}

extension [UInt8] {
    @inline(__always) mutating func appendU16(_ value: UInt16) {
        append(UInt8(truncatingIfNeeded: value >> 8))
        append(UInt8(truncatingIfNeeded: value))
    }

    @inline(__always) mutating func appendU32(_ value: UInt32) {
        append(UInt8(truncatingIfNeeded: value >> 24))
        append(UInt8(truncatingIfNeeded: value >> 16))
        append(UInt8(truncatingIfNeeded: value >> 8))
        append(UInt8(truncatingIfNeeded: value))
    }

    /// Overwrites four bytes at `offset` (a length or count written as a
    /// placeholder before what it counts).
    @inline(__always) mutating func setU32(_ value: UInt32, at offset: Int) {
        self[offset] = UInt8(truncatingIfNeeded: value >> 24)
        self[offset + 1] = UInt8(truncatingIfNeeded: value >> 16)
        self[offset + 2] = UInt8(truncatingIfNeeded: value >> 8)
        self[offset + 3] = UInt8(truncatingIfNeeded: value)
    }

    @inline(__always) mutating func appendU64(_ value: UInt64) {
        appendU32(UInt32(truncatingIfNeeded: value >> 32))
        appendU32(UInt32(truncatingIfNeeded: value))
    }

    /// Appends raw memory with one copy (`append(contentsOf:)` given an
    /// `UnsafeRawBufferPointer` copies byte by byte: it has no contiguous view).
    @inline(__always) mutating func appendRaw(_ raw: UnsafeRawBufferPointer) {
        append(contentsOf: UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: UInt8.self), count: raw.count))
    }

    mutating func appendString(_ string: String) {
        appendU32(UInt32(string.utf8.count))
        append(contentsOf: string.utf8)
    }
}
