import TidepoolCore

// Placeholder entry point; the front work replaces this file.

/// The host process: front proxy, pool and supervision of every child.
public enum Host {
    /// Serves until SIGINT/SIGTERM; returns the process exit status.
    /// `executable` is this binary, re-executed for the template and spawned instances.
    public static func run(configuration: Configuration, app: AppTarget, executable: String) -> Int32 {
        fatalError("host not implemented yet")
    }
}
