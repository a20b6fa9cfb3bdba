import CTidepoolLinux
import Glibc
import Logging
import TidepoolCore

/// Who the template and instances run as, decided once before any of them
/// starts (config key `user`, see `Configuration.user`).
///
/// The children switch identity themselves, before Python starts (the host
/// passes `--uid`/`--gid` on their command line; ProcessPrivileges.swift), so
/// the host keeps root only for what it does itself (binding, signalling).
struct InstanceUser: Equatable {
    var name: String
    var uid: uid_t
    var gid: gid_t

    /// The user children switch to, or nil to keep the host's identity.
    /// Throws when a configured user does not exist or cannot read the project.
    static func resolve(_ configured: String?, app: AppTarget, logger: Logger) throws(HostError) -> InstanceUser? {
        guard geteuid() == 0 else {
            if let configured, !configured.isEmpty, configured != currentUserName() {
                throw .instanceUser("config key `user` is \"\(configured)\", but switching user needs tidepool to run as root; remove the key or run as root")
            }
            return nil
        }
        let name = configured ?? "nobody"
        if name.isEmpty || name == "root" { return nil }
        guard let entry = getpwnam(name) else {
            if configured == nil {
                logger.warning("instances run as root: there is no user `nobody`; set `user` in the config to an unprivileged user")
                return nil
            }
            throw .instanceUser("config key `user` names \"\(name)\", which is not a user on this machine (see /etc/passwd)")
        }
        let user = InstanceUser(name: name, uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid)
        if let problem = user.unreadable(app) {
            if configured == nil {
                logger.warning("instances run as root: \(problem) (`user = \"root\"` silences this)")
                return nil
            }
            throw .instanceUser(problem)
        }
        return user
    }

    /// Why this user cannot use the project, or nil when it can: it must list
    /// and enter the project directory, the import root and the virtualenv.
    func unreadable(_ app: AppTarget) -> String? {
        let paths = [app.projectDirectory, app.importRoot] + (app.venv.map { [$0] } ?? [])
        let cStrings = paths.map { strdup($0) }
        defer { for pointer in cStrings { free(pointer) } }
        var error: Int32 = 0
        let failed = cStrings.map { UnsafePointer($0) }.withUnsafeBufferPointer { buffer in
            tp_access_as(uid, gid, buffer.baseAddress, Int32(paths.count), &error)
        }
        if failed < 0 { return nil }
        if Int(failed) >= paths.count {
            return "cannot check what user \(name) may read: \(errnoText(error))"
        }
        return "user \(name) cannot read \(paths[Int(failed)]): \(errnoText(error)); set `user` to a user that can, or make the project (and every directory above it) readable"
    }

    private static func currentUserName() -> String? {
        getpwuid(geteuid()).map { String(cString: $0.pointee.pw_name) }
    }
}

extension HostRuntime {
    /// The command line of a template or spawned instance: the app, then the
    /// identity and limits it takes on before Python starts.
    func childArguments(role: String) -> [String] {
        var arguments = ProcessLauncher.arguments(role: role, app: app, threads: scheduler.config.slotsPerInstance)
        if let instanceUser {
            arguments += ["--uid", String(instanceUser.uid), "--gid", String(instanceUser.gid)]
        }
        arguments += ["--max-open-files", String(configuration.instanceMaxOpenFiles)]
        if configuration.instanceCoreDumps { arguments.append("--core-dumps") }
        return arguments
    }

    /// Decides `instanceUser` before the first child starts.
    func resolveInstanceUser() throws(HostError) {
        instanceUser = try InstanceUser.resolve(configuration.user, app: app, logger: logger)
        if let instanceUser {
            logger.info("instances run as \(instanceUser.name) (uid \(instanceUser.uid))")
        }
    }
}
