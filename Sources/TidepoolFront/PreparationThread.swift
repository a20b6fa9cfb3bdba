import CTidepoolLinux
import Foundation
import Glibc
import Synchronization
import TidepoolCore
import TidepoolProject

/// Runs a redeploy's project preparation (install when the manifest changed,
/// the build command, the bundle check: from tens of milliseconds to
/// minutes) on a thread of its own, so the loop keeps serving the current
/// version meanwhile, and hands the result back to the loop through a pipe
/// it watches. One preparation at a time (the host runs one redeploy at a time).
final class PreparationThread: Sendable {
    typealias Prepared = Result<(app: AppTarget, router: Router), any Error>

    /// The finished preparation's result, until the loop takes it.
    private let result = Mutex<Prepared?>(nil)
    /// The pipe's write end: a byte says "done" (the read end is the loop's).
    private let doneFD: Int32

    /// `done` runs on the loop with each preparation's result. Nil if no pipe
    /// could be made (errno says why).
    init?(loop: EventLoop, done: @escaping (Prepared) -> Void) {
        var fds: [Int32] = [-1, -1]
        guard tp_pipe_cloexec_nonblock(&fds) == 0 else { return nil }
        doneFD = fds[1]
        let readFD = fds[0]
        // Both live as long as the host (the loop keeps this watch to its end).
        loop.watchReadable(readFD, urgent: false) { [self] in
            var bytes = [UInt8](repeating: 0, count: 16)
            while read(readFD, &bytes, bytes.count) > 0 {}
            if let prepared = take() { done(prepared) }
        }
    }

    private func take() -> Prepared? {
        result.withLock { value in
            defer { value = nil }
            return value
        }
    }

    /// Starts `prepare` on a new thread; its result reaches `done` on the loop.
    func start(_ prepare: @escaping @Sendable () throws -> (app: AppTarget, router: Router)) {
        Thread.detachNewThread { [self] in
            let prepared = Prepared { try prepare() }
            result.withLock { $0 = prepared }
            var byte: UInt8 = 1
            _ = write(doneFD, &byte, 1)
        }
    }
}
