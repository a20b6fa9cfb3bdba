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
    private var line: [UInt8] = []
    /// Whole second of the cached timestamp, and its text (`StreamLogHandler`:
    /// local time `%Y-%m-%dT%H:%M:%S%z`; json: UTC `yyyy-MM-ddTHH:mm:ss`, then `.SSS`).
    private var stampSecond = -1
    private var stamp: [UInt8] = []

    init(format: Configuration.LogFormat) {
        self.format = format
        line.reserveCapacity(512)
    }

    /// The line for `entry`, newline included (valid until the next call).
    mutating func format(_ entry: Entry) -> [UInt8] {
        line.removeAll(keepingCapacity: true)
        switch format {
        case .text: formatText(entry)
        case .json: formatJSON(entry)
        }
        return line
    }

    // Every piece is appended as bytes: literals from their static storage,
    // numbers digit by digit. String interpolation and `Array.append(contentsOf:
    // String.UTF8View)` allocated and walked the text per field, per request.

    private mutating func formatText(_ e: Entry) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        refreshStamp(second: now.tv_sec)
        line.append(contentsOf: stamp)
        append(" info tidepool.access: duration_ms=")
        Self.appendTenths(e.durationNanos, to: &line)
        if let error = e.error {
            append(" error=")
            appendText(error.rawValue)
        }
        if let instance = e.instance {
            append(" instance=")
            Self.appendDecimal(UInt64(instance), to: &line)
        }
        append(" method=")
        appendText(e.method)
        append(" path=")
        line.append(contentsOf: e.path)
        if let queue = e.queueNanos {
            append(" queue_ms=")
            Self.appendTenths(queue, to: &line)
        }
        append(" start=")
        append(Self.start(e))
        append(" status=")
        Self.appendStatus(e.status, to: &line)
        append(" [TidepoolFront] ")
        appendMessage(e, escaped: false)
        line.append(UInt8(ascii: "\n"))
    }

    private mutating func formatJSON(_ e: Entry) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        refreshStamp(second: now.tv_sec)
        append(#"{"duration_ms":""#)
        Self.appendTenths(e.durationNanos, to: &line)
        line.append(UInt8(ascii: "\""))
        if let error = e.error {
            append(#","error":""#)
            appendText(error.rawValue)
            line.append(UInt8(ascii: "\""))
        }
        if let instance = e.instance {
            append(#","instance":"#)
            Self.appendDecimal(UInt64(instance), to: &line)
        }
        append(#","level":"info","logger":"tidepool.access","method":""#)
        Self.appendJSONEscaped(e.method.utf8, to: &line)
        append(#"","msg":""#)
        appendMessage(e, escaped: true)
        append(#"","path":""#)
        Self.appendJSONEscaped(e.path, to: &line)
        line.append(UInt8(ascii: "\""))
        if let queue = e.queueNanos {
            append(#","queue_ms":""#)
            Self.appendTenths(queue, to: &line)
            line.append(UInt8(ascii: "\""))
        }
        append(#","start":""#)
        append(Self.start(e))
        append(#"","status":"#)
        Self.appendStatus(e.status, to: &line)
        append(#","ts":""#)
        line.append(contentsOf: stamp)
        let millis = Int(now.tv_nsec) / 1_000_000
        line.append(contentsOf: [
            UInt8(ascii: "."), UInt8(ascii: "0") + UInt8(millis / 100), UInt8(ascii: "0") + UInt8(millis / 10 % 10),
            UInt8(ascii: "0") + UInt8(millis % 10), UInt8(ascii: "\""), UInt8(ascii: "}"), UInt8(ascii: "\n"),
        ])
    }

    /// `GET /path → 200 (1.2 ms)`, the line's message.
    private mutating func appendMessage(_ e: Entry, escaped: Bool) {
        if escaped { Self.appendJSONEscaped(e.method.utf8, to: &line) } else { appendText(e.method) }
        line.append(UInt8(ascii: " "))
        if escaped { Self.appendJSONEscaped(e.path, to: &line) } else { line.append(contentsOf: e.path) }
        append(" → ")
        Self.appendStatus(e.status, to: &line)
        append(" (")
        Self.appendTenths(e.durationNanos, to: &line)
        append(" ms)")
    }

    private mutating func append(_ literal: StaticString) {
        literal.withUTF8Buffer { line.append(contentsOf: $0) }
    }

    /// (Not an `append` overload: a literal would pick the String one.)
    private mutating func appendText(_ text: String) {
        var text = text
        text.withUTF8 { line.append(contentsOf: $0) }
    }

    /// `status` as `"\(status)"` printed it (0: reset before a status).
    static func appendStatus(_ status: Int, to line: inout [UInt8]) {
        if status < 0 { line.append(UInt8(ascii: "-")) }
        appendDecimal(UInt64(status.magnitude), to: &line)
    }

    /// `value` in decimal, as `String(value)` prints it.
    static func appendDecimal(_ value: UInt64, to line: inout [UInt8]) {
        var divisor: UInt64 = 1
        while value / divisor >= 10 { divisor *= 10 }
        while divisor > 0 {
            line.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
            divisor /= 10
        }
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
    static func appendTenths(_ nanos: UInt64, to line: inout [UInt8]) {
        let tenths = (nanos + 50_000) / 100_000
        appendDecimal(tenths / 10, to: &line)
        line.append(UInt8(ascii: "."))
        line.append(UInt8(ascii: "0") + UInt8(tenths % 10))
    }

    /// `text` as a JSON string body, escaped as `JSONSerialization` does with
    /// `.withoutEscapingSlashes`: quote, backslash and control characters.
    static func appendJSONEscaped(_ text: some Sequence<UInt8>, to line: inout [UInt8]) {
        for byte in text {
            switch byte {
            case UInt8(ascii: "\""): line.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): line.append(contentsOf: #"\\"#.utf8)
            case 0x0A: line.append(contentsOf: #"\n"#.utf8)
            case 0x0D: line.append(contentsOf: #"\r"#.utf8)
            case 0x09: line.append(contentsOf: #"\t"#.utf8)
            case 0x08: line.append(contentsOf: #"\b"#.utf8)
            case 0x0C: line.append(contentsOf: #"\f"#.utf8)
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                line.append(contentsOf: #"\u00"#.utf8)
                line.append(hex[Int(byte >> 4)])
                line.append(hex[Int(byte & 0xF)])
            default: line.append(byte)
            }
        }
    }
}
