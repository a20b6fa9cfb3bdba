import ArgumentParser

/// The `tidepool` command. Deliberately synchronous: the same binary is the
/// template process, which must stay single-threaded until it forks.
@main
struct Tidepool: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tidepool",
        abstract: "Host Flask (any WSGI) apps the way Vercel's Fluid compute does.",
        subcommands: [ServeCommand.self, DevCommand.self, BuildCommand.self, InitCommand.self, TemplateCommand.self, InstanceCommand.self]
    )
}
