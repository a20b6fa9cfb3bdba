/// What an instance or template process needs to load the app.
public struct InstanceOptions: Sendable {
    public var projectDirectory: String
    public var importRoot: String
    public var module: String
    public var attribute: String
    public var venv: String?
    public var threads: Int
    /// Identity and limits applied before Python starts (see `ProcessPrivileges`).
    public var privileges: ProcessPrivileges = ProcessPrivileges()

    public init(
        projectDirectory: String, importRoot: String, module: String, attribute: String,
        venv: String?, threads: Int
    ) {
        self.projectDirectory = projectDirectory
        self.importRoot = importRoot
        self.module = module
        self.attribute = attribute
        self.venv = venv
        self.threads = threads
    }
}
