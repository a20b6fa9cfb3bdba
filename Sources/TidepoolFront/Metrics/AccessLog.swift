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
        var path: String
        var status: Int
        var durationNanos: UInt64
        var queueNanos: UInt64?
        var instance: UInt32?
        var cold: Bool
        var error: ErrorCode?
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

    private mutating func formatText(_ e: Entry) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        refreshStamp(second: now.tv_sec)
        line.append(contentsOf: stamp)
        line.append(contentsOf: " info tidepool.access: duration_ms=".utf8)
        Self.appendTenths(e.durationNanos, to: &line)
        if let error = e.error { line.append(contentsOf: " error=\(error.rawValue)".utf8) }
        if let instance = e.instance { line.append(contentsOf: " instance=\(instance)".utf8) }
        line.append(contentsOf: " method=".utf8)
        line.append(contentsOf: e.method.utf8)
        line.append(contentsOf: " path=".utf8)
        line.append(contentsOf: e.path.utf8)
        if let queue = e.queueNanos {
            line.append(contentsOf: " queue_ms=".utf8)
            Self.appendTenths(queue, to: &line)
        }
        line.append(contentsOf: " start=".utf8)
        line.append(contentsOf: Self.start(e).utf8)
        line.append(contentsOf: " status=\(e.status) [TidepoolFront] ".utf8)
        appendMessage(e, escaped: false)
        line.append(UInt8(ascii: "\n"))
    }

    private mutating func formatJSON(_ e: Entry) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        refreshStamp(second: now.tv_sec)
        line.append(contentsOf: #"{"duration_ms":""#.utf8)
        Self.appendTenths(e.durationNanos, to: &line)
        line.append(UInt8(ascii: "\""))
        if let error = e.error { line.append(contentsOf: #","error":"\#(error.rawValue)""#.utf8) }
        if let instance = e.instance { line.append(contentsOf: #","instance":\#(instance)"#.utf8) }
        line.append(contentsOf: #","level":"info","logger":"tidepool.access","method":""#.utf8)
        Self.appendJSONEscaped(e.method, to: &line)
        line.append(contentsOf: #"","msg":""#.utf8)
        appendMessage(e, escaped: true)
        line.append(contentsOf: #"","path":""#.utf8)
        Self.appendJSONEscaped(e.path, to: &line)
        line.append(UInt8(ascii: "\""))
        if let queue = e.queueNanos {
            line.append(contentsOf: #","queue_ms":""#.utf8)
            Self.appendTenths(queue, to: &line)
            line.append(UInt8(ascii: "\""))
        }
        line.append(contentsOf: #","start":"\#(Self.start(e))","status":\#(e.status),"ts":""#.utf8)
        line.append(contentsOf: stamp)
        let millis = Int(now.tv_nsec) / 1_000_000
        line.append(contentsOf: [
            UInt8(ascii: "."), UInt8(ascii: "0") + UInt8(millis / 100), UInt8(ascii: "0") + UInt8(millis / 10 % 10),
            UInt8(ascii: "0") + UInt8(millis % 10), UInt8(ascii: "\""), UInt8(ascii: "}"), UInt8(ascii: "\n"),
        ])
    }

    /// `GET /path → 200 (1.2 ms)`, the line's message.
    private mutating func appendMessage(_ e: Entry, escaped: Bool) {
        if escaped { Self.appendJSONEscaped(e.method, to: &line) } else { line.append(contentsOf: e.method.utf8) }
        line.append(UInt8(ascii: " "))
        if escaped { Self.appendJSONEscaped(e.path, to: &line) } else { line.append(contentsOf: e.path.utf8) }
        line.append(contentsOf: " → \(e.status) (".utf8)
        Self.appendTenths(e.durationNanos, to: &line)
        line.append(contentsOf: " ms)".utf8)
    }

    private static func start(_ e: Entry) -> String {
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
        line.append(contentsOf: String(tenths / 10).utf8)
        line.append(UInt8(ascii: "."))
        line.append(UInt8(ascii: "0") + UInt8(tenths % 10))
    }

    /// `text` as a JSON string body, escaped as `JSONSerialization` does with
    /// `.withoutEscapingSlashes`: quote, backslash and control characters.
    static func appendJSONEscaped(_ text: String, to line: inout [UInt8]) {
        for byte in text.utf8 {
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
