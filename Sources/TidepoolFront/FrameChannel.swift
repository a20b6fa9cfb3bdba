import CEvent
import Glibc
import TidepoolCore

/// The host's end of one framed socketpair (to an instance or the template),
/// on a libevent bufferevent.
///
/// Reading hands over every complete frame in the input buffer, then calls
/// `onBatchEnd` once, so the host can coalesce what arrived together (a
/// response head and end in one read become one reply). `responseBody`
/// payloads are not decoded into arrays: `onBody` moves them straight from the
/// input buffer into the reply's buffer. A malformed frame closes the channel
/// and reports it through `onClose`; it never traps.
///
/// Reading is the channel's own: a read event on the socket `readv`s into
/// the bufferevent's input buffer (`readSocket`). The bufferevent's reading
/// (`evbuffer_read`) asks the kernel `FIONREAD` before every read, a syscall
/// per response that sizes a read we can simply make large enough; and it
/// reads at most 4 KB per loop pass.
///
/// Writing: frames added to `output` during a loop iteration are written with
/// one `writev` at the end of that iteration (`flushOutput`), straight to the
/// socket. The bufferevent's own writing (wait for EPOLLOUT in the next
/// iteration, then write) cost two `epoll_ctl` and a loop wake-up per
/// request; it is enabled only while the socket is full, and disabled again
/// once the bufferevent has drained what was left.
final class FrameChannel {
    /// Why a channel ended.
    enum CloseReason: CustomStringConvertible {
        case endOfFile
        case error(Int32)
        case malformed(FrameError)
        var description: String {
            switch self {
            case .endOfFile: "channel closed"
            case .error(let code): "channel error: \(errnoText(code))"
            case .malformed(let error): "malformed frame: \(error)"
            }
        }
    }

    let fd: Int32
    private var bufferEvent: OpaquePointer?
    /// The socket's read event (see `readSocket`); freed before the socket closes.
    private var readEvent: OpaquePointer?
    /// How much one read may take: a response of a few frames in one `readv`.
    static let readBytes = 32 * 1024
    var onFrame: (Frame) -> Void = { _ in }
    /// (request id, input buffer, payload length): move or drain exactly that many bytes.
    var onBody: (UInt32, OpaquePointer, Int) -> Void = { _, input, length in evbuffer_drain(input, length) }
    var onBatchEnd: () -> Void = {}
    var onClose: (CloseReason) -> Void = { _ in }

    var isOpen: Bool { bufferEvent != nil }
    private unowned let loop: EventLoop
    /// Writes the output at the end of the iteration that added to it.
    private var flushHook: DeferredCall?

    /// Wraps `fd` (owned from now on: closed with the channel).
    init(loop: EventLoop, fd: Int32) {
        self.fd = fd
        self.loop = loop
        ProcessLauncher.setNonBlocking(fd)
        bufferEvent = bufferevent_socket_new(loop.base, fd, Int32(BEV_OPT_CLOSE_ON_FREE.rawValue))
        let context = Unmanaged.passUnretained(self).toOpaque()
        flushHook = loop.iterationEnd { [unowned self] in flushOutput() }
        bufferevent_setcb(bufferEvent, nil, channelWriteCallback, channelEventCallback, context)  // reads: `readSocket`
        if let output { evbuffer_add_cb(output, channelOutputCallback, context) }
        bufferevent_disable(bufferEvent, Int16(EV_READ | EV_WRITE))  // EV_WRITE on by default; see flushOutput
        readEvent = event_new(loop.base, fd, Int16(EV_READ | EV_PERSIST), channelSocketReadCallback, context)
        if let readEvent { event_add(readEvent, nil) }
    }

    deinit {
        if let flushHook { loop.release(flushHook) }
        if let readEvent { event_free(readEvent) }
        if let bufferEvent { bufferevent_free(bufferEvent) }
    }

    /// The output buffer, for writers that build frames in place (request bodies).
    var output: OpaquePointer? {
        bufferEvent.flatMap { bufferevent_get_output($0) }
    }

    func send(_ frame: Frame) {
        guard let bufferEvent else { return }
        let bytes = FrameEncoder.encode(frame)
        _ = bytes.withUnsafeBytes { bufferevent_write(bufferEvent, $0.baseAddress, $0.count) }
    }

    /// Bytes ever added to the output, and ever taken out of it by a write to
    /// the socket. A frame queued at offset `bytesQueued` (before adding it)
    /// has not reached the peer while `bytesWritten` is at or below that
    /// offset: if the channel ends then, the peer never saw any of it. This
    /// replaces a `recv(MSG_PEEK)` per dispatch (a syscall per request): a
    /// peer that is already gone makes the write fail or its EOF arrive, and
    /// what it never received is known without asking the kernel.
    private(set) var bytesQueued: UInt64 = 0
    private(set) var bytesWritten: UInt64 = 0

    /// Closes the socket now; unsent output is dropped. No callback follows.
    func close() {
        if let flushHook { loop.release(flushHook) }
        flushHook = nil
        if let readEvent { event_free(readEvent) }  // before the socket closes
        readEvent = nil
        guard let bufferEvent else { return }
        self.bufferEvent = nil
        bufferevent_free(bufferEvent)
    }

    /// The output changed: count it, and write what was added at the end of
    /// this iteration. After `close` nothing is counted (freeing the buffer
    /// drops its bytes; they were never written).
    fileprivate func outputChanged(added: Int, deleted: Int) {
        guard bufferEvent != nil else { return }
        bytesWritten &+= UInt64(deleted)
        guard added > 0 else { return }
        bytesQueued &+= UInt64(added)
        flushHook?.schedule()
    }

    /// Writes what the socket takes now; the rest (a full socket, or an error
    /// the bufferevent will then report through `onClose`) goes to the
    /// bufferevent's writing until drained.
    private func flushOutput() {
        guard let bufferEvent, let output, evbuffer_get_length(output) > 0 else { return }
        if bufferevent_get_enabled(bufferEvent) & Int16(EV_WRITE) != 0 { return }  // already waiting for room
        // A socket bufferevent keeps its output's front frozen outside its own writing.
        evbuffer_unfreeze(output, 1)
        _ = evbuffer_write(output, fd)
        evbuffer_freeze(output, 1)
        if evbuffer_get_length(output) > 0 { bufferevent_enable(bufferEvent, Int16(EV_WRITE)) }
    }

    /// The bufferevent wrote the last of the output: back to writing at iteration ends.
    fileprivate func outputDrained() {
        guard let bufferEvent, let output, evbuffer_get_length(output) == 0 else { return }
        bufferevent_disable(bufferEvent, Int16(EV_WRITE))
    }

    /// The socket is readable: one `readv` into the input buffer's free space,
    /// then the frames it completed; end of file and errors close the channel
    /// after the frames that came before them.
    fileprivate func readSocket() {
        guard let bufferEvent, let input = bufferevent_get_input(bufferEvent) else { return }
        // A socket bufferevent keeps its input's end frozen outside its own reading.
        evbuffer_unfreeze(input, 0)
        // libevent's evbuffer_iovec is `struct iovec` on Linux, ready for readv.
        var vectors = (iovec(), iovec())
        let result: Int = withUnsafeMutableBytes(of: &vectors) { raw in
            let vector = raw.baseAddress!.assumingMemoryBound(to: iovec.self)
            let count = evbuffer_reserve_space(input, Self.readBytes, vector, 2)
            guard count > 0 else { return -2 }
            let read = readv(fd, vector, count)
            let code = errno
            var left = max(read, 0)
            for i in 0..<Int(count) {
                vector[i].iov_len = min(vector[i].iov_len, left)
                left -= vector[i].iov_len
            }
            evbuffer_commit_space(input, vector, read > 0 ? count : 0)
            errno = code
            return read
        }
        let code = errno
        evbuffer_freeze(input, 0)
        if result > 0 {
            readAvailable()
        } else if result == 0 {
            readAvailable()
            fail(.endOfFile)
        } else if result == -2 || !(code == EAGAIN || code == EWOULDBLOCK || code == EINTR) {
            readAvailable()
            fail(.error(result == -2 ? ENOMEM : code))
        }
    }

    fileprivate func readAvailable() {
        guard let bufferEvent, let input = bufferevent_get_input(bufferEvent) else { return }
        var header: (UInt64, UInt64) = (0, 0)  // FrameEncoder.headerSize (9) bytes, on the stack
        precondition(FrameEncoder.headerSize <= MemoryLayout.size(ofValue: header))
        while isOpen {
            let available = evbuffer_get_length(input)
            guard available >= 4 else { break }
            let copied = withUnsafeMutableBytes(of: &header) { evbuffer_copyout(input, $0.baseAddress, min(available, FrameEncoder.headerSize)) }
            let (length, kind, id) = withUnsafeBytes(of: header) { h in
                (UInt32(h[0]) << 24 | UInt32(h[1]) << 16 | UInt32(h[2]) << 8 | UInt32(h[3]), h[4],
                 UInt32(h[5]) << 24 | UInt32(h[6]) << 16 | UInt32(h[7]) << 8 | UInt32(h[8]))
            }
            guard length >= 5, length <= FrameDecoder.maxFrameLength else {
                fail(.malformed(.badLength(length)))
                return
            }
            let size = 4 + Int(length)
            guard available >= size else { break }
            if copied == FrameEncoder.headerSize, kind == FrameKind.responseBody.rawValue {
                evbuffer_drain(input, FrameEncoder.headerSize)
                onBody(id, input, size - FrameEncoder.headerSize)
                continue
            }
            guard let start = evbuffer_pullup(input, size) else { break }
            let decoded: (frame: Frame, consumed: Int)?
            do throws(FrameError) {
                decoded = try FrameDecoder.decode(UnsafeRawBufferPointer(start: start, count: size))
            } catch {
                fail(.malformed(error))
                return
            }
            guard let decoded else { break }
            evbuffer_drain(input, decoded.consumed)
            onFrame(decoded.frame)
        }
        if isOpen { onBatchEnd() }
    }

    fileprivate func fail(_ reason: CloseReason) {
        guard isOpen else { return }
        close()
        onClose(reason)
    }
}

private func channelSocketReadCallback(_ fd: Int32, _ what: Int16, _ context: UnsafeMutableRawPointer?) {
    guard let context else { return }
    let channel = Unmanaged<FrameChannel>.fromOpaque(context).takeUnretainedValue()
    withExtendedLifetime(channel) { channel.readSocket() }
}

private func channelWriteCallback(_ bufferEvent: OpaquePointer?, _ context: UnsafeMutableRawPointer?) {
    guard let context else { return }
    Unmanaged<FrameChannel>.fromOpaque(context).takeUnretainedValue().outputDrained()
}

/// Runs on every change of the output buffer (evbuffer callbacks are synchronous).
private func channelOutputCallback(
    _ buffer: OpaquePointer?, _ info: UnsafePointer<evbuffer_cb_info>?, _ context: UnsafeMutableRawPointer?
) {
    guard let context, let info else { return }
    Unmanaged<FrameChannel>.fromOpaque(context).takeUnretainedValue()
        .outputChanged(added: info.pointee.n_added, deleted: info.pointee.n_deleted)
}

private func channelEventCallback(_ bufferEvent: OpaquePointer?, _ what: Int16, _ context: UnsafeMutableRawPointer?) {
    guard let context else { return }
    let channel = Unmanaged<FrameChannel>.fromOpaque(context).takeUnretainedValue()
    let events = Int32(what)
    if events & Int32(BEV_EVENT_EOF) != 0 {
        // Frames that arrived with the EOF are still delivered first.
        channel.readAvailable()
        channel.fail(.endOfFile)
    } else if events & Int32(BEV_EVENT_ERROR) != 0 {
        let code = errno
        channel.readAvailable()
        channel.fail(.error(code))
    }
}
