import TidepoolCore

/// A request as the reader assembles it from frames, then hands to a handler.
///
/// The reader thread owns it until `requestEnd` queues it; from then on only
/// the handler that dequeued it touches it (the queue's mutex orders the
/// hand-over), so it needs no lock of its own.
final class PendingRequest: @unchecked Sendable {
    let id: UInt32
    /// The head in its wire bytes (the environ is built straight from them).
    let head: RequestHeadView
    var body: [UInt8] = []
    /// When the head reached the instance (monotonic ns): the start of the wall time.
    let arrival: UInt64

    init(id: UInt32, head: RequestHeadView, arrival: UInt64) {
        self.id = id
        self.head = head
        self.arrival = arrival
    }

    /// `METHOD /path` for log lines (the raw target, lossily decoded).
    var summary: String {
        "\(head.string(head.method)) \(String(decoding: head.payload[head.target].prefix(300), as: UTF8.self))"
    }
}
