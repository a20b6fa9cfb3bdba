import CEvent
import Glibc
import Logging
import TidepoolCore

/// Open client connections, for `maxConnections`.
///
/// libevent 2.1's evhttp has no connection limit and no hook with the new
/// connection, so counting takes two public hooks:
/// - `evhttp_set_bevcb` runs as evhttp accepts a connection, before it builds
///   the connection object: we make the bufferevent ourselves, keep a
///   reference to it (`bufferevent_incref`, so it stays valid whatever evhttp
///   does with it) and wake the `settle` event.
/// - `settle` runs later in the same loop pass, before any read on the new
///   socket. Each kept bufferevent's callback argument is now its
///   `evhttp_connection` (`bufferevent_getcb`; NULL callbacks mean evhttp
///   already freed it). Under the limit the connection is counted and a close
///   callback uncounts it (evhttp calls it exactly once, from
///   `evhttp_connection_free` or its reset, also when the server is freed).
///   Over it, a 503 is written straight to the socket and the connection freed
///   with `evhttp_connection_free` — outside any evhttp callback for it, with no
///   request started, which is the state evhttp itself frees idle ones in.
///   Then our reference is dropped.
/// Connections already open are never touched.
struct ConnectionLimit {
    /// Counted connections (each has our close callback).
    var open = 0
    /// Bufferevents made for connections accepted since the last settle, each
    /// holding one reference of ours.
    var unsettled: [OpaquePointer] = []
    /// Activated whenever `unsettled` gains one.
    var settleEvent: OpaquePointer?
    /// Connections refused since start (for the log).
    var refused = 0
    /// Each connection's request guard, by its bufferevent (RequestGuard.swift).
    var guards: [OpaquePointer: ConnectionGuard] = [:]

    /// The whole answer to a refused connection.
    static let refusal: [UInt8] = {
        let body = "503: \(ErrorCode.throttled.rawValue)\nToo many open connections; try again shortly.\n"
        return Array("""
            HTTP/1.1 503 Service Unavailable\r
            Content-Type: text/plain; charset=utf-8\r
            Content-Length: \(body.utf8.count)\r
            \(ErrorCode.headerName): \(ErrorCode.throttled.rawValue)\r
            Connection: close\r
            \r
            \(body)
            """.utf8)
    }()
}

extension HostRuntime {
    /// Called once on the new evhttp server, before it accepts anything.
    func configureConnectionLimit(_ http: OpaquePointer) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        connections.settleEvent = event_new(loop.base, -1, 0, settleCallback, context)
        evhttp_set_bevcb(http, newConnectionCallback, context)
    }

    /// After `evhttp_free` (which uncounted every open connection): drops our
    /// references and the settle event.
    func releaseConnectionLimit() {
        for bufferevent in connections.unsettled {
            removeGuard(bufferevent)
            bufferevent_decref(bufferevent)
        }
        connections.unsettled.removeAll()
        connections.guards.removeAll()
        if let event = connections.settleEvent { event_free(event) }
        connections.settleEvent = nil
    }

    fileprivate func makeBufferevent(_ base: OpaquePointer) -> OpaquePointer? {
        guard let bufferevent = bufferevent_socket_new(base, -1, Int32(BEV_OPT_CLOSE_ON_FREE.rawValue)) else { return nil }
        bufferevent_incref(bufferevent)
        installGuard(bufferevent)  // RequestGuard.swift
        connections.unsettled.append(bufferevent)
        if let event = connections.settleEvent { event_active(event, 0, 0) }
        return bufferevent
    }

    fileprivate func settle() {
        let batch = connections.unsettled
        connections.unsettled.removeAll()
        for bufferevent in batch {
            var readCallback: bufferevent_data_cb?
            var writeCallback: bufferevent_data_cb?
            var eventCallback: bufferevent_event_cb?
            var argument: UnsafeMutableRawPointer?
            bufferevent_getcb(bufferevent, &readCallback, &writeCallback, &eventCallback, &argument)
            if readCallback != nil, let argument {
                let connection = OpaquePointer(argument)
                if connections.open < configuration.maxConnections {
                    connections.open += 1
                    evhttp_connection_set_closecb(connection, connectionClosedCallback, Unmanaged.passUnretained(self).toOpaque())
                } else {
                    refuse(connection, bufferevent: bufferevent)
                }
            } else {
                removeGuard(bufferevent)
            }
            bufferevent_decref(bufferevent)
        }
    }

    private func refuse(_ connection: OpaquePointer, bufferevent: OpaquePointer) {
        let fd = bufferevent_getfd(bufferevent)
        if fd >= 0 {
            _ = ConnectionLimit.refusal.withUnsafeBytes { bytes in
                send(fd, bytes.baseAddress, bytes.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
            }
        }
        connections.refused += 1
        if connections.refused == 1 || connections.refused.isMultiple(of: 1000) {
            logger.warning("refused a connection: \(connections.open) are open (maxConnections \(configuration.maxConnections)); \(connections.refused) refused so far")
        }
        removeGuard(bufferevent)
        evhttp_connection_free(connection)
    }
}

private func newConnectionCallback(_ base: OpaquePointer?, _ context: UnsafeMutableRawPointer?) -> OpaquePointer? {
    guard let base, let context else { return nil }
    return Unmanaged<HostRuntime>.fromOpaque(context).takeUnretainedValue().makeBufferevent(base)
}

private func settleCallback(_ fd: Int32, _ events: Int16, _ context: UnsafeMutableRawPointer?) {
    guard let context else { return }
    Unmanaged<HostRuntime>.fromOpaque(context).takeUnretainedValue().settle()
}

private func connectionClosedCallback(_ connection: OpaquePointer?, _ context: UnsafeMutableRawPointer?) {
    guard let context else { return }
    let runtime = Unmanaged<HostRuntime>.fromOpaque(context).takeUnretainedValue()
    runtime.connections.open -= 1
    runtime.removeGuard(connection.flatMap { evhttp_connection_get_bufferevent($0) })
}
