import TidepoolCore
import TidepoolProject

/// What the host needs to redeploy itself: a way to prepare the project again
/// (install when the manifest changed, build, bundle check: the CLI passes
/// `ProjectPreparer`, so the front stays free of project logic) and, for
/// `tidepool dev`, the directory whose files trigger a redeploy when they change.
public struct Reloading {
    /// Prepares the project's current files and returns the app to serve and
    /// the router for its vercel.json. Runs on a thread of its own
    /// (`PreparationThread`) while the host keeps serving.
    public var prepare: @Sendable () throws -> (app: AppTarget, router: Router)
    /// `tidepool dev`: watch this project directory (sources, manifests,
    /// vercel.json) and redeploy on change; also log every request.
    public var watchDirectory: String?

    public init(prepare: @escaping @Sendable () throws -> (app: AppTarget, router: Router), watchDirectory: String? = nil) {
        self.prepare = prepare
        self.watchDirectory = watchDirectory
    }
}

/// Where a redeploy is. One at a time: a request for another while one runs
/// is remembered (the latest reason) and starts when the current one ends.
struct RedeployProgress {
    var running = false
    /// The project is being prepared on the preparation thread.
    var preparing = false
    /// The host is stopping and sent the preparation's children SIGTERM (`stopPreparation`).
    var preparationStopped = false
    /// The new version's template (fork mode), until it answers ready or fails.
    var template: TemplateRecord?
    var pendingApp: AppTarget?
    var pendingRouter: Router?
    var again: String?
    var startedAt: UInt64 = 0
    var reason = ""
}
