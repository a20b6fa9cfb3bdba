import Glibc
import TidepoolCore

/// One access log line per request, formatted straight into bytes.
///
/// Through swift-log, each line built a metadata dictionary, sorted it, called
/// `localtime`/`strftime` (a `stat` of /etc/localtime each time) and wrote it
/// unbuffered: ~7 % of the host's CPU per request. The lines here are the same
/// shape byte for byte as swift-log's `StreamLogHandler` (text) and the CLI's
/// `JSONLogHandler` (json, keys sorted) produced: the same fields, in the same
/// order, with the same number formatting; the timestamp text is computed once
/// per second. Lines go to `LogOutput`, which batches the writes.
struct AccessLog {
    /// The fields of one line.
    struct Entry {
        var method: String
        /// Written as they are: valid UTF-8, already made loggable
        /// (`ObservedRequests.loggableBytes`). Bytes, not a String: the host
        /// had built a String per request only to copy it back out here.
        var path: [UInt8]
        var status: Int
        var durationNanos: UInt64
        var queueNanos: UInt64?
        var instance: UInt32?
        var cold: Bool
        var error: ErrorCode?

        init(
            method: String, path: [UInt8], status: Int, durationNanos: UInt64, queueNanos: UInt64?,
            instance: UInt32?, cold: Bool, error: ErrorCode?
        ) {
            self.method = method
            self.path = path
            self.status = status
            self.durationNanos = durationNanos
            self.queueNanos = queueNanos
            self.instance = instance
            self.cold = cold
            self.error = error
        }

        init(
            method: String, path: String, status: Int, durationNanos: UInt64, queueNanos: UInt64?,
            instance: UInt32?, cold: Bool, error: ErrorCode?
        ) {
            self.init(
                method: method, path: Array(path.utf8), status: status, durationNanos: durationNanos,
                queueNanos: queueNanos, instance: instance, cold: cold, error: error)
        }
    }

    let format: Configuration.LogFormat
    /// Whole second of the cached timestamp, and its text (`StreamLogHandler`:
    /// local time `%Y-%m-%dT%H:%M:%S%z`; json: UTC `yyyy-MM-ddTHH:mm:ss`, then `.SSS`).
    private var stampSecond = -1
    private var stamp: [UInt8] = []

    init(format: Configuration.LogFormat) {
        self.format = format
    }

    /// Formats the line for `entry` (newline included) and passes it to `body`.
    mutating func withLine<R>(_ entry: Entry, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        refreshStamp(second: now.tv_sec)
        // Every field is bounded but the method and path, which appear twice and
        // may grow 6 times when JSON-escaped (`\u00XX`).
        let capacity = 512 + stamp.count + 12 * (entry.path.count + entry.method.utf8.count)
        return ByteCursor.withBytes(capacity: capacity, { line in
            switch format {
            case .text: formatText(entry, into: &line)
            case .json: formatJSON(entry, millis: Int(now.tv_nsec) / 1_000_000, into: &line)
            }
        }, done: body)
    }

    // Every piece is written as bytes: literals from their static storage,
    // numbers digit by digit. String interpolation and `Array.append(contentsOf:
    // String.UTF8View)` allocated and walked the text per field, per request.

    private func formatText(_ e: Entry, into line: inout ByteCursor) {
        line.put(stamp)
        line.put(" info tidepool.access: duration_ms=")
        Self.putTenths(e.durationNanos, into: &line)
        if let error = e.error {
            line.put(" error=")
            Self.putText(error.rawValue, into: &line)
        }
        if let instance = e.instance {
            line.put(" instance=")
            line.putDecimal(UInt64(instance))
        }
        line.put(" method=")
        Self.putText(e.method, into: &line)
        line.put(" path=")
        line.put(e.path)
        if let queue = e.queueNanos {
            line.put(" queue_ms=")
            Self.putTenths(queue, into: &line)
        }
        line.put(" start=")
        line.put(Self.start(e))
        line.put(" status=")
        line.putDecimal(e.status)
        line.put(" [TidepoolFront] ")
        Self.putMessage(e, escaped: false, into: &line)
        line.put(UInt8(ascii: "\n"))
    }

    private func formatJSON(_ e: Entry, millis: Int, into line: inout ByteCursor) {
        line.put(#"{"duration_ms":""#)
        Self.putTenths(e.durationNanos, into: &line)
        line.put(UInt8(ascii: "\""))
        if let error = e.error {
            line.put(#","error":""#)
            Self.putText(error.rawValue, into: &line)
            line.put(UInt8(ascii: "\""))
        }
        if let instance = e.instance {
            line.put(#","instance":"#)
            line.putDecimal(UInt64(instance))
        }
        line.put(#","level":"info","logger":"tidepool.access","method":""#)
        Self.putJSONEscaped(e.method.utf8, into: &line)
        line.put(#"","msg":""#)
        Self.putMessage(e, escaped: true, into: &line)
        line.put(#"","path":""#)
        Self.putJSONEscaped(e.path, into: &line)
        line.put(UInt8(ascii: "\""))
        if let queue = e.queueNanos {
            line.put(#","queue_ms":""#)
            Self.putTenths(queue, into: &line)
            line.put(UInt8(ascii: "\""))
        }
        line.put(#","start":""#)
        line.put(Self.start(e))
        line.put(#"","status":"#)
        line.putDecimal(e.status)
        line.put(#","ts":""#)
        line.put(stamp)
        line.put(UInt8(ascii: "."))
        line.put(UInt8(ascii: "0") + UInt8(millis / 100))
        line.put(UInt8(ascii: "0") + UInt8(millis / 10 % 10))
        line.put(UInt8(ascii: "0") + UInt8(millis % 10))
        line.put("\"}\n")
    }

    /// `GET /path → 200 (1.2 ms)`, the line's message.
    private static func putMessage(_ e: Entry, escaped: Bool, into line: inout ByteCursor) {
        if escaped { putJSONEscaped(e.method.utf8, into: &line) } else { putText(e.method, into: &line) }
        line.put(UInt8(ascii: " "))
        if escaped { putJSONEscaped(e.path, into: &line) } else { line.put(e.path) }
        line.put(" → ")
        line.putDecimal(e.status)
        line.put(" (")
        putTenths(e.durationNanos, into: &line)
        line.put(" ms)")
    }

    private static func putText(_ text: String, into line: inout ByteCursor) {
        var text = text
        text.withUTF8 { line.put(UnsafeRawBufferPointer($0)) }
    }

    private static func start(_ e: Entry) -> StaticString {
        e.instance == nil ? "none" : e.cold ? "cold" : "warm"
    }

    private mutating func refreshStamp(second: Int) {
        guard second != stampSecond else { return }
        stampSecond = second
        var time = time_t(second)
        var parts = tm()
        var text = [CChar](repeating: 0, count: 64)
        switch format {
        case .text:
            localtime_r(&time, &parts)
            strftime(&text, text.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
        case .json:
            gmtime_r(&time, &parts)
            strftime(&text, text.count, "%Y-%m-%dT%H:%M:%S", &parts)
        }
        stamp = text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    }

    /// Milliseconds rounded to tenths, as `String(Double)` printed them
    /// (`0.0`, `9.7`, `1234.5`): exact for any duration below 10^15 ms.
    static func putTenths(_ nanos: UInt64, into line: inout ByteCursor) {
        let tenths = (nanos + 50_000) / 100_000
        line.putDecimal(tenths / 10)
        line.put(UInt8(ascii: "."))
        line.put(UInt8(ascii: "0") + UInt8(tenths % 10))
    }

    /// `text` as a JSON string body, escaped as `JSONSerialization` does with
    /// `.withoutEscapingSlashes`: quote, backslash and control characters.
    static func putJSONEscaped(_ text: some Sequence<UInt8>, into line: inout ByteCursor) {
        for byte in text {
            switch byte {
            case UInt8(ascii: "\""): line.put(#"\""#)
            case UInt8(ascii: "\\"): line.put(#"\\"#)
            case 0x0A: line.put(#"\n"#)
            case 0x0D: line.put(#"\r"#)
            case 0x09: line.put(#"\t"#)
            case 0x08: line.put(#"\b"#)
            case 0x0C: line.put(#"\f"#)
            case 0..<0x20:
                let hex: StaticString = "0123456789abcdef"
                line.put(#"\u00"#)
                line.put(hex.utf8Start[Int(byte >> 4)])
                line.put(hex.utf8Start[Int(byte & 0xF)])
            default: line.put(byte)
            }
        }
    }
}
