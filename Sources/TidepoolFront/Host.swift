import Logging
import TidepoolCore
import TidepoolProject

/// The host process: front proxy, pool and supervision of every child.
public enum Host {
    /// Serves until SIGINT/SIGTERM; returns the process exit status (0 after a
    /// clean stop, 1 when startup failed or a second signal forced the stop).
    /// `executable` is this binary, re-executed for the template and spawned instances.
    /// `router` applies the project's vercel.json (none: statics, then the app).
    /// `reloading` enables redeploys (SIGHUP, and the file watch of `tidepool dev`).
    public static func run(
        configuration: Configuration, app: AppTarget, executable: String, router: Router = Router(),
        reloading: Reloading? = nil
    ) -> Int32 {
        LogOutput.flushAtExit()
        defer { LogOutput.flush() }
        do {
            let runtime = try HostRuntime(
                configuration: configuration, app: app, executable: executable, router: router, reloading: reloading)
            return runtime.run()
        } catch {
            Logger(label: "tidepool").error("\(error)")
            return 1
        }
    }
}
