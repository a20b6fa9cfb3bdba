import CTidepoolLinux
import Glibc

/// The identity and resource limits a template or spawned instance takes on
/// before Python starts. Forked instances inherit them from their template.
///
/// Order matters: limits first (raising a hard limit needs root), then the
/// user switch, then a check that the new user can still read the project —
/// so a mistake shows as one clear `failed(phase: "user")` frame instead of an
/// import traceback.
public struct ProcessPrivileges: Sendable, Equatable {
    /// User and group ids to switch to; nil keeps the current identity.
    public var user: (uid: UInt32, gid: UInt32)?
    /// `RLIMIT_NOFILE` to set, or nil to keep the inherited one.
    public var maxOpenFiles: UInt64?
    /// When false, `RLIMIT_CORE` is set to 0.
    public var coreDumps: Bool

    public init(user: (uid: UInt32, gid: UInt32)? = nil, maxOpenFiles: UInt64? = nil, coreDumps: Bool = true) {
        self.user = user
        self.maxOpenFiles = maxOpenFiles
        self.coreDumps = coreDumps
    }

    public static func == (a: ProcessPrivileges, b: ProcessPrivileges) -> Bool {
        a.user?.uid == b.user?.uid && a.user?.gid == b.user?.gid
            && a.maxOpenFiles == b.maxOpenFiles && a.coreDumps == b.coreDumps
    }

    /// Applies the limits and the user; `readable` are directories the
    /// process must still be able to list and enter afterwards.
    func apply(readable: [String]) throws(StartError) {
        if let maxOpenFiles, tp_set_limit(Int32(RLIMIT_NOFILE.rawValue), maxOpenFiles) != 0 {
            throw StartError(phase: "user", message: "cannot set RLIMIT_NOFILE to \(maxOpenFiles): \(String(cString: strerror(errno)))")
        }
        if !coreDumps, tp_set_limit(Int32(RLIMIT_CORE.rawValue), 0) != 0 {
            throw StartError(phase: "user", message: "cannot set RLIMIT_CORE to 0: \(String(cString: strerror(errno)))")
        }
        guard let user else { return }
        guard tp_become_user(user.uid, user.gid) == 0 else {
            throw StartError(phase: "user", message: "cannot switch to uid \(user.uid) gid \(user.gid): \(String(cString: strerror(errno))); set `user` in the config (\"root\" keeps root)")
        }
        for path in readable where access(path, R_OK | X_OK) != 0 {
            throw StartError(phase: "user", message: """
                uid \(user.uid) cannot read \(path): \(String(cString: strerror(errno))); \
                set `user` in the config to a user that can, or make the project readable
                """)
        }
    }
}
