import CEvent
import Foundation

/// Where requests go: `http://HOST:PORT[/prefix]`.
struct Target: CustomStringConvertible {
    let host: String
    let port: UInt16
    let prefix: String

    init(_ url: String) throws {
        guard url.hasPrefix("http://") else { throw LoadError.badTarget(url, "only http:// URLs are supported") }
        let rest = url.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" }
        var prefix = String(rest.dropFirst(authority.count))
        while prefix.hasSuffix("/") { prefix.removeLast() }
        let parts = authority.split(separator: ":", maxSplits: 1)
        guard let hostPart = parts.first, !hostPart.isEmpty else { throw LoadError.badTarget(url, "no host") }
        let port = parts.count == 2 ? UInt16(parts[1]) : 80
        guard let port else { throw LoadError.badTarget(url, "the port is not a number in 1...65535") }
        host = String(hostPart)
        self.port = port
        self.prefix = prefix
    }

    var description: String { "http://\(host):\(port)\(prefix)" }
}

/// One request's bookkeeping, carried through libevent as the callback argument.
final class InFlight {
    let scheduled: Double
    let connection: Connection?
    let onDone: (InFlight, _ status: Int, _ tidepoolError: String?, _ body: [UInt8]) -> Void
    var failure: String?

    init(scheduled: Double, connection: Connection?, onDone: @escaping (InFlight, Int, String?, [UInt8]) -> Void) {
        self.scheduled = scheduled
        self.connection = connection
        self.onDone = onDone
    }
}

/// One keep-alive connection; carries one request at a time (HTTP/1.1, no pipelining).
final class Connection {
    let handle: OpaquePointer

    init(base: OpaquePointer, target: Target, timeoutSeconds: Double) {
        handle = evhttp_connection_base_new(base, nil, target.host, target.port)
        evhttp_connection_set_timeout(handle, Int32(max(1, timeoutSeconds.rounded(.up))))
        evhttp_connection_set_retries(handle, 0)
    }

    deinit { evhttp_connection_free(handle) }
}

private let requestDone: @convention(c) (UnsafeMutablePointer<evhttp_request>?, UnsafeMutableRawPointer?) -> Void = { request, arg in
    guard let arg else { return }
    let pending = Unmanaged<InFlight>.fromOpaque(arg).takeRetainedValue()
    guard let request, evhttp_request_get_response_code(request) > 0 else {
        pending.onDone(pending, 0, pending.failure ?? "connection", [])
        return
    }
    let status = Int(evhttp_request_get_response_code(request))
    let code = evhttp_find_header(evhttp_request_get_input_headers(request), "x-tidepool-error").map { String(cString: $0) }
    var body: [UInt8] = []
    if let buffer = evhttp_request_get_input_buffer(request) {
        let length = evbuffer_get_length(buffer)
        if length > 0 {
            body = [UInt8](repeating: 0, count: length)
            _ = body.withUnsafeMutableBytes { evbuffer_copyout(buffer, $0.baseAddress, length) }
        }
    }
    pending.onDone(pending, status, code, body)
}

private let requestFailed: @convention(c) (evhttp_request_error, UnsafeMutableRawPointer?) -> Void = { error, arg in
    guard let arg else { return }
    let pending = Unmanaged<InFlight>.fromOpaque(arg).takeUnretainedValue()
    pending.failure = switch error {
    case EVREQ_HTTP_TIMEOUT: "timeout"
    case EVREQ_HTTP_EOF: "eof"
    case EVREQ_HTTP_INVALID_HEADER: "invalid-header"
    case EVREQ_HTTP_BUFFER_ERROR: "connection"
    case EVREQ_HTTP_REQUEST_CANCEL: "cancelled"
    default: "data-too-long"
    }
}

enum HTTP {
    /// Sends `GET path` on `connection`; `pending.onDone` runs exactly once (also on failure).
    static func get(_ path: String, target: Target, on connection: OpaquePointer, pending: InFlight) {
        let arg = Unmanaged.passRetained(pending).toOpaque()
        guard let request = evhttp_request_new(requestDone, arg) else {
            Unmanaged<InFlight>.fromOpaque(arg).release()
            pending.onDone(pending, 0, "client", [])
            return
        }
        evhttp_request_set_error_cb(request, requestFailed)
        let headers = evhttp_request_get_output_headers(request)
        evhttp_add_header(headers, "Host", "\(target.host):\(target.port)")
        evhttp_add_header(headers, "User-Agent", "tidepool-load")
        if evhttp_make_request(connection, request, EVHTTP_REQ_GET, target.prefix + path) != 0 {
            // libevent freed the request without calling back.
            Unmanaged<InFlight>.fromOpaque(arg).release()
            pending.onDone(pending, 0, "connection", [])
        }
    }
}

/// Monotonic seconds and this process's CPU time.
enum Clock {
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return s(usage.ru_utime) + s(usage.ru_stime)
    }
}

/// Errors the user can act on.
enum LoadError: Error, CustomStringConvertible {
    case badTarget(String, String)
    case scenarioNotFound(String, [String])
    case eventLoop(String)
    case launch(String)
    case usage(String)

    var description: String {
        switch self {
        case .badTarget(let url, let why): "--target \(url): \(why)"
        case .scenarioNotFound(let name, let known):
            "no scenario \(name): give a path to a .toml file or one of: \(known.joined(separator: ", "))"
        case .eventLoop(let why): "libevent: \(why)"
        case .launch(let why): why
        case .usage(let why): why
        }
    }
}

/// Each connection is a file descriptor: raise the soft limit to the hard one
/// and keep the connection cap below it, so an open-loop burst does not fail
/// with EMFILE but waits (counted as connection waits).
enum FileLimit {
    static func connections(wanted: Int) -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return min(wanted, 900) }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        let usable = limit.rlim_cur >= rlim_t(Int.max) ? wanted : max(16, Int(limit.rlim_cur) - 64)
        if usable < wanted {
            FileHandle.standardError.write(Data("tidepool-load: open files limit allows \(usable) connections (scenario asks \(wanted))\n".utf8))
        }
        return min(wanted, usable)
    }
}
