import Foundation
import Testing
import TidepoolCore
@testable import TidepoolFront

/// The access log lines keep the shape swift-log's StreamLogHandler (text) and
/// the CLI's JSONLogHandler (json) gave them before the host formatted them itself.
struct AccessLogTests {
    private let entry = AccessLog.Entry(
        method: "GET", path: "/a\"b\\c\u{1}é", status: 200, durationNanos: 9_650_000, queueNanos: 40_000,
        instance: 2, cold: false, error: nil)

    private func text(_ log: inout AccessLog, _ entry: AccessLog.Entry) -> String {
        log.withLine(entry) { String(decoding: $0, as: UTF8.self) }
    }

    @Test func textLineHasSortedFieldsThenTheMessage() {
        var log = AccessLog(format: .text)
        let line = text(&log, entry)
        let fields = #"info tidepool.access: duration_ms=9.7 instance=2 method=GET path=/a"b\c"#
            + "\u{1}é queue_ms=0.0 start=warm status=200 [TidepoolFront] GET /a\"b\\c\u{1}é → 200 (9.7 ms)\n"
        #expect(line.hasSuffix(" " + fields))
        #expect(line.split(separator: " ").first?.count == "2026-11-25T12:00:04+0000".count)
    }

    @Test func textLineOfAnEarlyRejection() {
        var log = AccessLog(format: .text)
        let rejected = AccessLog.Entry(
            method: "GET", path: "/x", status: 414, durationNanos: 0, queueNanos: nil, instance: nil, cold: false,
            error: .urlTooLong)
        #expect(text(&log, rejected).hasSuffix(
            " duration_ms=0.0 error=URL_TOO_LONG method=GET path=/x start=none status=414 [TidepoolFront] GET /x → 414 (0.0 ms)\n"))
    }

    @Test func jsonLineIsWhatJSONSerializationWrote() throws {
        var log = AccessLog(format: .json)
        let line = text(&log, entry)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let path = String(decoding: entry.path, as: UTF8.self)
        #expect(object["path"] as? String == path)
        #expect(object["msg"] as? String == "GET \(path) → 200 (9.7 ms)")
        #expect(object["duration_ms"] as? String == "9.7" && object["queue_ms"] as? String == "0.0")
        #expect(object["status"] as? Int == 200 && object["instance"] as? Int == 2)
        #expect(object["start"] as? String == "warm" && object["logger"] as? String == "tidepool.access")
        var fields = object
        fields["ts"] = nil
        let reference = try JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes])
        let mine = line.replacingOccurrences(of: #","ts":"[^"]*""#, with: "", options: .regularExpression)
        #expect(mine == String(decoding: reference, as: UTF8.self) + "\n")
    }

    @Test func tenthsOfMillisecondsPrintLikeDoubles() {
        for nanos: UInt64 in [0, 49_999, 50_000, 1_000_000, 123_456_789, 100_000_000_000] {
            let text = ByteCursor.withBytes(capacity: 32, { AccessLog.putTenths(nanos, into: &$0) }) {
                String(decoding: $0, as: UTF8.self)
            }
            let millis = Double(nanos) / 1_000_000
            #expect(text == String((millis * 10).rounded() / 10))
        }
    }
}

/// The access log's path bytes are `loggable(path:)`'s UTF-8, whatever the path.
struct LoggablePathBytesTests {
    @Test func bytesAreTheLoggableStringsUTF8() {
        let long = [UInt8](repeating: UInt8(ascii: "a"), count: ObservedRequests.maxLoggedPath + 3)
        for path: [UInt8] in [[], Array("/api/data".utf8), [0x2f, 0x01, 0x7f, 0x41], [0x2f, 0xc3, 0xa9], [0x2f, 0xff], long] {
            #expect(ObservedRequests.loggableBytes(path: path) == Array(ObservedRequests.loggable(path: path).utf8))
        }
    }
}
