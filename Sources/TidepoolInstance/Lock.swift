import Glibc

/// A pthread mutex with a condition variable beside it.
///
/// Handler threads are plain pthreads, not Swift tasks, so they block on a
/// condition variable; `Synchronization.Mutex` has no condition to pair with.
/// The storage is heap-allocated because pthread objects must not move.
final class Lock: @unchecked Sendable {
    // Invariant: `mutex` and `condition` are only touched through pthread calls,
    // which are themselves thread-safe; the pointers never change after init.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        condition = .allocate(capacity: 1)
        condition.initialize(to: pthread_cond_t())
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
    /// Takes the lock if it is free; true when taken.
    func tryLock() -> Bool { pthread_mutex_trylock(mutex) == 0 }

    /// Waits for `signal`/`broadcast`; call with the lock held (spurious wake-ups happen: loop).
    func wait() { pthread_cond_wait(condition, mutex) }
    func signal() { pthread_cond_signal(condition) }
    /// Waits on another condition variable paired with this mutex (a `Parker`'s).
    func wait(on other: UnsafeMutablePointer<pthread_cond_t>) { pthread_cond_wait(other, mutex) }
    /// Waits on `other` until `deadline` (absolute, in that condition's clock).
    func wait(on other: UnsafeMutablePointer<pthread_cond_t>, until deadline: UnsafePointer<timespec>) {
        pthread_cond_timedwait(other, mutex, deadline)
    }
    func broadcast() { pthread_cond_broadcast(condition) }

    func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}
