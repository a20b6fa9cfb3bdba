import Foundation
import Logging

/// `--log-format json`: one JSON object per line on stderr, for log collectors.
/// Keys: `ts` (ISO 8601, UTC), `level`, `logger` (the label), `msg`, then the
/// metadata (the access log's `method`, `path`, `status`, `duration_ms`…).
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    init(label: String, logLevel: Logger.Level) {
        self.label = label
        self.logLevel = logLevel
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields: [String: Any] = [:]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
            fields[key] = Self.plain(value)
        }
        fields["ts"] = Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true))
        fields["level"] = event.level.rawValue
        fields["logger"] = label
        fields["msg"] = event.message.description
        if let error = event.error { fields["error"] = "\(error)" }
        guard var data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return }
        data.append(UInt8(ascii: "\n"))
        // One write per line, so lines from one process never interleave.
        FileHandle.standardError.write(data)
    }

    private static func plain(_ value: Logger.Metadata.Value) -> Any {
        switch value {
        case .string(let s): s
        case .stringConvertible(let c):
            if let i = c as? any BinaryInteger { Int(i) } else { c.description }
        case .array(let a): a.map(plain)
        case .dictionary(let d): d.mapValues(plain)
        }
    }
}
