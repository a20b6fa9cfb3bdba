import ArgumentParser

/// `tidepool dev [DIR]`: `serve` for development. Watches the project's
/// sources and manifests and redeploys on change (no request fails during
/// the swap); statics under public/ are served fresh without a redeploy;
/// every request is logged in a human-readable line.
struct DevCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract: "Serve a project and redeploy it whenever its Python files, manifests or vercel.json change."
    )

    @OptionGroup var options: ServeCommand

    func run() throws {
        try options.serve(dev: true)
    }
}
