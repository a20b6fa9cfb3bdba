import CEvent
import CTidepoolLinux
import Glibc
import Logging

/// `tidepool dev`'s access log: one human-readable line per answered request,
/// `GET /path → 200 (12.3 ms)`, logged when evhttp has written the reply.
/// Off under `serve` (its logs stay about the host, not the traffic).
extension HostRuntime {
    /// Requests freed without completing (their client left) leave their entry
    /// behind; past this many the table is cleared (dev only, small leak bound).
    static let accessLogMaxPending = 4096

    var accessLogEnabled: Bool { reloading?.watchDirectory != nil }

    func noteArrival(_ request: UnsafeMutablePointer<evhttp_request>) {
        guard accessLogEnabled else { return }
        if accessLogArrivals.count >= Self.accessLogMaxPending { accessLogArrivals.removeAll() }
        accessLogArrivals[UnsafeMutableRawPointer(request)] = tp_monotonic_nanos()
    }

    func logAccess(_ request: UnsafeMutablePointer<evhttp_request>) {
        guard accessLogEnabled else { return }
        let arrived = accessLogArrivals.removeValue(forKey: UnsafeMutableRawPointer(request))
        let method = Self.methodName(evhttp_request_get_command(request))
        let uri = evhttp_request_get_uri(request).map { String(cString: $0) } ?? "?"
        let status = evhttp_request_get_response_code(request)
        let took = arrived.map { " (\(Self.format(Self.millis(since: $0))) ms)" } ?? ""
        logger.info("\(method) \(uri) → \(status)\(took)")
    }
}
