import Prometheus
import TidepoolCore

/// A duration histogram recorded on the loop thread, rendered in the same
/// text as swift-prometheus's `DurationHistogram`.
///
/// The host records two durations per request. swift-prometheus's histogram
/// takes a lock and walks every bucket, comparing 128-bit `Duration`s and
/// incrementing each bucket at or above the value (its buckets are kept
/// cumulative): 735 instructions per record, 3 % of the host's work on a
/// proxied request. Here a record finds its one bucket among `Int64`
/// nanosecond bounds and adds 1; the cumulative counts are summed when the
/// metrics are scraped, which is rare.
///
/// Not Sendable: the host's loop thread owns it, like `HostMetrics`.
final class LoopHistogram {
    let name: String
    private let help: String
    private let boundsNanos: [Int64]
    /// `le` label values, as swift-prometheus writes them.
    private let boundTexts: [String]
    /// Per bucket (not cumulative), then one for values above every bound.
    private var counts: [UInt64]
    private var sumNanos: Int64 = 0
    private(set) var count: UInt64 = 0

    init(descriptor: MetricNameDescriptor, buckets: [Duration]) {
        name = descriptor.name
        help = descriptor.helpText ?? ""
        let sorted = buckets.sorted()
        boundsNanos = sorted.map(\.inNanoseconds)
        boundTexts = sorted.map(\.bucketRepresentation)
        counts = Array(repeating: 0, count: sorted.count + 1)
    }

    func record(nanoseconds: Int64) {
        var bucket = 0
        while bucket < boundsNanos.count, boundsNanos[bucket] < nanoseconds { bucket += 1 }
        counts[bucket] += 1
        sumNanos &+= nanoseconds
        count += 1
    }

    /// HELP, TYPE, the cumulative buckets, sum and count.
    func emit(into buffer: inout [UInt8]) {
        if !help.isEmpty {
            buffer.append(contentsOf: "# HELP \(name) ".utf8)
            for byte in help.utf8 {
                if byte == UInt8(ascii: "\\") { buffer.append(contentsOf: #"\\"#.utf8) } else { buffer.append(byte) }
            }
            buffer.append(UInt8(ascii: "\n"))
        }
        buffer.append(contentsOf: "# TYPE \(name) histogram\n".utf8)
        var cumulative: UInt64 = 0
        for (bucket, text) in boundTexts.enumerated() {
            cumulative += counts[bucket]
            buffer.append(contentsOf: "\(name)_bucket{le=\"\(text)\"} \(cumulative)\n".utf8)
        }
        buffer.append(contentsOf: "\(name)_bucket{le=\"+Inf\"} \(count)\n".utf8)
        buffer.append(contentsOf: "\(name)_sum \(Duration.nanoseconds(sumNanos).bucketRepresentation)\n".utf8)
        buffer.append(contentsOf: "\(name)_count \(count)\n".utf8)
    }
}
