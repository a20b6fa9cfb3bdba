import CTidepoolLinux
import Glibc

/// Clocks and resource meters read from the kernel.
enum Clock {
    /// Monotonic nanoseconds, for phase and wall times.
    static func now() -> UInt64 { tp_monotonic_nanos() }

    /// CPU time the calling thread has used, for a request's active-CPU meter.
    static func threadCPU() -> UInt64 { tp_thread_cpu_nanos() }

    /// CPU time of the whole process (all threads), for `stats`.
    static func processCPU() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// Resident set size from /proc/self/statm (second field, in pages); 0 if unreadable.
    static func residentBytes() -> UInt64 {
        let fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return 0 }
        let fields = buffer[0..<n].split(separator: UInt8(ascii: " "))
        guard fields.count >= 2, let pages = UInt64(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
        return pages * UInt64(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// How many threads this process has (entries of /proc/self/task): the
    /// template refuses to fork unless it is exactly 1.
    static func threadCount() -> Int {
        guard let dir = opendir("/proc/self/task") else { return -1 }
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { count += 1 }
        }
        return count
    }
}
