import TidepoolCore

/// What the access log and the request metrics need to know about one request
/// between its arrival and its reply.
struct RequestTrace {
    let arrivedAt: UInt64
    let method: String
    /// The raw target's path: a view of the request's head bytes, copied
    /// only if the request ends unrouted (refused, `/_tidepool/` on the admin port).
    let rawPath: ArraySlice<UInt8>
    /// The decoded path, once routed. Made loggable only when a line is
    /// written (`path`), not per request.
    var routedPath: [UInt8]?
    var pathBytes: [UInt8] { routedPath ?? Array(rawPath) }
    var dispatchedAt: UInt64?
    var instance: UInt32?
    /// The first request its instance ever got.
    var cold = false

    init(arrivedAt: UInt64, method: String, rawPath: ArraySlice<UInt8>) {
        self.arrivedAt = arrivedAt
        self.method = method
        self.rawPath = rawPath
    }

    /// The path as the access log shows it.
    var path: String { ObservedRequests.loggable(path: pathBytes) }
    /// Its UTF-8, as the access log writes it.
    var loggedPath: [UInt8] { ObservedRequests.loggableBytes(path: pathBytes) }
}

/// Per-instance bookkeeping for observability, owned by the host's loop
/// thread. Each request's trace lives on the request itself (`HTTPRequest.trace`).
struct ObservedRequests {
    /// Instances that have been dispatched at least one request.
    var warmInstances = WireIDSet()
    /// Per live instance: when its provisioned memory was last accounted.
    var memoryAccountedAt: [UInt32: UInt64] = [:]

    /// Longest path written to the access log (a path is client data).
    static let maxLoggedPath = 512

    /// `loggable(path:)`'s UTF-8, for the access log. A short printable-ASCII
    /// path (nearly every one) is already loggable: returned as it is, with no
    /// String made and copied back per request.
    static func loggableBytes(path: [UInt8]) -> [UInt8] {
        if path.count <= maxLoggedPath, path.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) { return path }
        return Array(loggable(path: path).utf8)
    }

    /// A path safe for one log line: control bytes replaced, length capped.
    static func loggable(path: [UInt8]) -> String {
        let capped = path.prefix(maxLoggedPath).map { $0 < 0x20 || $0 == 0x7f ? UInt8(ascii: "?") : $0 }
        return String(decoding: capped, as: UTF8.self) + (path.count > maxLoggedPath ? "…" : "")
    }
}
