import CEvent
import Glibc

/// Writes a whole reply to the client's socket in the iteration that made it.
///
/// evhttp only queues a reply: `evhttp_send_reply` appends it to the
/// connection's output buffer and enables the write event, so the bytes leave
/// one loop iteration later (an `epoll_ctl` to watch for writability, an
/// extra `epoll_wait`, and another `epoll_ctl` when reading resumes). The
/// socket is almost always writable, so this does what the bufferevent's own
/// write callback would do, now: write the buffer and, once it is empty, run
/// the bufferevent's write callback (evhttp's: it completes the reply, frees
/// the request and resumes reading or closes the connection).
///
/// Only public libevent 2.1 API, and only its documented contract:
/// - the socket bufferevent keeps its output frozen at the drain end except
///   while it writes (`evbuffer_freeze(output, 1)`), so the write unfreezes
///   and refreezes it exactly as `bufferevent_writecb` does;
/// - `bufferevent_trigger(EV_WRITE)` runs the write callback iff the output is
///   at or below its low watermark (0 for evhttp), holding a reference on the
///   bufferevent for the duration, so evhttp may free the connection inside
///   it; nothing here touches the connection afterwards;
/// - evhttp's connections are not made with `BEV_OPT_DEFER_CALLBACKS`, so the
///   callback runs now (and a pipelined request is read on a later pass:
///   evhttp defers that itself).
/// A partial write, EAGAIN or an error leaves the rest to the usual path: the
/// write event is still enabled, and its callback writes the rest, or reports
/// the error, and then completes the reply.
enum ReplyWriteThrough {
    /// Call right after `evhttp_send_reply` on a request whose connection was
    /// `connection` (non-nil before the call: evhttp then keeps it alive until
    /// its write callback runs).
    static func flush(_ connection: OpaquePointer) {
        guard let bufferEvent = evhttp_connection_get_bufferevent(connection),
              let output = bufferevent_get_output(bufferEvent) else { return }
        let fd = bufferevent_getfd(bufferEvent)
        guard fd >= 0, evbuffer_get_length(output) > 0 else { return }
        evbuffer_unfreeze(output, 1)
        let written = evbuffer_write(output, fd)
        evbuffer_freeze(output, 1)
        guard written > 0, evbuffer_get_length(output) == 0 else { return }
        bufferevent_trigger(bufferEvent, Int16(EV_WRITE), 0)
    }
}
