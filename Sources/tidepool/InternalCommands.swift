import ArgumentParser
import TidepoolInstance

/// Options shared by the two internal process roles. The host passes them;
/// users never type these commands.
struct AppOptions: ParsableArguments {
    @Option(help: "Project directory (working directory of the app).") var project: String
    @Option(help: "Directory put first on sys.path.") var importRoot: String
    @Option(help: "Module holding the WSGI callable.") var module: String
    @Option(help: "Attribute of the module that is the WSGI callable.") var attr: String
    @Option(help: "Virtualenv to use.") var venv: String?
    @Option(help: "Handler threads per instance.") var threads: Int = 8
    @Option(help: "User id to switch to before Python starts.") var uid: UInt32?
    @Option(help: "Group id to switch to before Python starts.") var gid: UInt32?
    @Option(help: "RLIMIT_NOFILE to set.") var maxOpenFiles: UInt64?
    @Flag(help: "Keep core dumps allowed (otherwise RLIMIT_CORE is 0).") var coreDumps = false

    var instanceOptions: InstanceOptions {
        var options = InstanceOptions(
            projectDirectory: project, importRoot: importRoot, module: module,
            attribute: attr, venv: venv, threads: threads
        )
        options.privileges = ProcessPrivileges(
            user: uid.flatMap { uid in gid.map { (uid: uid, gid: $0) } },
            maxOpenFiles: maxOpenFiles, coreDumps: coreDumps)
        return options
    }
}

/// `tidepool _template`: imports the app once, then forks instances on request.
/// Its control channel to the host is file descriptor 3.
struct TemplateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "_template", shouldDisplay: false)
    @OptionGroup var app: AppOptions

    func run() throws {
        TemplateProcess.run(app.instanceOptions, controlFD: 3)
    }
}

/// `tidepool _instance`: a freshly spawned instance (start mode `spawn`).
/// Its channel to the host is file descriptor 3.
struct InstanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "_instance", shouldDisplay: false)
    @OptionGroup var app: AppOptions

    func run() throws {
        InstanceProcess.runSpawned(app.instanceOptions, channelFD: 3)
    }
}
