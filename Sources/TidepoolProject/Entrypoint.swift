/// Which module and attribute is the app, as found by `EntrypointDetector`.
/// Paths are relative to the project directory so the value is testable and
/// printable; `Project` turns them into the absolute `AppTarget`.
public struct Entrypoint: Equatable, Sendable {
    /// How the entrypoint was chosen (shown to the user, so they know what to edit).
    public enum Origin: Equatable, Sendable, CustomStringConvertible {
        /// `[tool.vercel] entrypoint` in pyproject.toml.
        case toolVercel
        /// One of the conventional file names (`app.py`, `src/main.py`, …).
        case conventionalFile
        /// `[project.scripts] app` in pyproject.toml.
        case projectScripts

        public var description: String {
            switch self {
            case .toolVercel: "[tool.vercel] entrypoint"
            case .conventionalFile: "conventional file name"
            case .projectScripts: "[project.scripts] app"
            }
        }
    }

    /// The Python file, relative to the project (`src/app.py`).
    public var file: String
    /// Directory put first on `sys.path`, relative to the project; "" is the project itself.
    public var importRoot: String
    /// Dotted module name importable from `importRoot` (`app`, `backend.server`).
    public var module: String
    /// The WSGI callable's name in that module (`app` or `application`, or what was configured).
    public var attribute: String
    public var origin: Origin

    public init(file: String, importRoot: String, module: String, attribute: String, origin: Origin) {
        self.file = file
        self.importRoot = importRoot
        self.module = module
        self.attribute = attribute
        self.origin = origin
    }
}
