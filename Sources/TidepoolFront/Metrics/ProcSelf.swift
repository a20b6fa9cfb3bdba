import Glibc

/// The host process's own resource use, read from /proc at scrape time.
enum ProcSelf {
    /// Resident set size: the second field of /proc/self/statm, in pages.
    static func residentBytes() -> UInt64? {
        guard let file = fopen("/proc/self/statm", "r") else { return nil }
        defer { fclose(file) }
        var size: UInt64 = 0
        var resident: UInt64 = 0
        guard fscanf_statm(file, &size, &resident) else { return nil }
        return resident * UInt64(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Entries of /proc/self/fd, minus the one the listing itself holds open.
    static func openFileDescriptors() -> Int? {
        guard let dir = opendir("/proc/self/fd") else { return nil }
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            let first = withUnsafeBytes(of: entry.pointee.d_name) { $0.first ?? 0 }
            if first != UInt8(ascii: ".") { count += 1 }
        }
        return max(0, count - 1)
    }

    /// Reads two unsigned integers (fscanf is variadic, so parse the line by hand).
    private static func fscanf_statm(_ file: UnsafeMutablePointer<FILE>, _ a: inout UInt64, _ b: inout UInt64) -> Bool {
        var buffer = [CChar](repeating: 0, count: 128)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return false }
        let line = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let fields = line.split(separator: " ")
        guard fields.count >= 2, let size = UInt64(fields[0]), let resident = UInt64(fields[1]) else { return false }
        a = size
        b = resident
        return true
    }
}
