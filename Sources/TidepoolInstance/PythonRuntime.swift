import CPython
import Glibc
import TidepoolCore

typealias PyObjectPointer = UnsafeMutablePointer<PyObject>

/// The embedded interpreter with the app imported, plus the Python objects
/// every request needs, looked up once.
final class PythonRuntime: @unchecked Sendable {
    // Invariant: every pointer is set in `start` before any handler thread
    // exists, never changes, holds a strong reference for the life of the
    // process, and is only dereferenced with the GIL held.
    /// The WSGI callable.
    let app: PyObjectPointer
    /// `io.BytesIO`, the type of `wsgi.input`.
    let bytesIO: PyObjectPointer
    /// The `(1, 0)` tuple of `wsgi.version`.
    let wsgiVersion: PyObjectPointer
    /// The interned name `"close"` (looked up on every app iterable).
    let closeName: PyObjectPointer
    /// The native `start_response` / `write` definitions (see StartResponse.swift).
    let callables: NativeCallables

    private init(app: PyObjectPointer, bytesIO: PyObjectPointer, wsgiVersion: PyObjectPointer, closeName: PyObjectPointer) {
        self.app = app
        self.bytesIO = bytesIO
        self.wsgiVersion = wsgiVersion
        self.closeName = closeName
        self.callables = NativeCallables()
    }

    /// Initialises Python for `options` and imports the app. Returns with the
    /// GIL held by the calling thread, and the measured phases.
    static func start(_ options: InstanceOptions) throws(StartError) -> (PythonRuntime, [StartPhase]) {
        let initStart = Clock.now()
        guard chdir(options.projectDirectory) == 0 else {
            throw StartError(phase: "python-init", message: "cannot enter project directory \(options.projectDirectory): \(String(cString: strerror(errno)))")
        }
        try initialise(venv: options.venv)
        guard prependToPath(options.importRoot) else {
            throw StartError(phase: "python-init", message: "cannot put \(options.importRoot) on sys.path:\n\(Python.takeException())")
        }
        let importStart = Clock.now()
        guard let module = PyImport_ImportModule(options.module) else {
            throw StartError(phase: "import", message: "importing module '\(options.module)' from \(options.importRoot) failed:\n\(Python.takeException())")
        }
        guard let app = PyObject_GetAttrString(module, options.attribute) else {
            throw StartError(phase: "import", message: "module '\(options.module)' has no attribute '\(options.attribute)' (the WSGI app):\n\(Python.takeException())")
        }
        guard PyCallable_Check(app) != 0 else {
            let type = String(cString: tp_type_name(app))
            throw StartError(phase: "import", message: "'\(options.module):\(options.attribute)' is a \(type), not a WSGI callable")
        }
        guard let io = PyImport_ImportModule("io"), let bytesIO = PyObject_GetAttrString(io, "BytesIO"),
              let version = Py_BuildValueTuple(1, 0), let closeName = PyUnicode_InternFromString("close") else {
            throw StartError(phase: "import", message: "cannot set up the WSGI bridge:\n\(Python.takeException())")
        }
        Py_DecRef(io)
        let done = Clock.now()
        let runtime = PythonRuntime(app: app, bytesIO: bytesIO, wsgiVersion: version, closeName: closeName)
        return (runtime, [
            StartPhase(name: "python-init", nanos: importStart - initStart),
            StartPhase(name: "import", nanos: done - importStart),
        ])
    }

    /// Imports, once in the template, the stdlib modules that common WSGI
    /// stacks import lazily on their first request, so no forked instance
    /// pays for them on the request that caused its start. Measured with
    /// examples/flask: werkzeug's first `bind_to_environ` encodes the host with
    /// the `idna` codec, whose import made the first call 3.5–14 ms instead of
    /// 0.5 ms. Importing a codec has no side effect an app could notice.
    static func preloadLazyImports() {
        for name in ["encodings.idna"] {
            if let module = PyImport_ImportModule(name) { Py_DecRef(module) } else { PyErr_Clear() }
        }
    }

    /// `gc.freeze()`: moves everything imported so far to a permanent
    /// generation, so forked children do not touch (and copy) those pages
    /// when the collector runs.
    static func freezeGC() {
        guard let gc = PyImport_ImportModule("gc"), let freeze = PyObject_GetAttrString(gc, "freeze") else {
            PyErr_Clear()
            return
        }
        if let result = PyObject_CallNoArgs(freeze) { Py_DecRef(result) } else { PyErr_Clear() }
        Py_DecRef(freeze)
        Py_DecRef(gc)
    }

    /// `random.seed()` in a forked child, so siblings do not share a sequence.
    static func reseedRandom() {
        guard let random = PyImport_ImportModule("random"), let seed = PyObject_GetAttrString(random, "seed") else {
            PyErr_Clear()
            return
        }
        if let result = PyObject_CallNoArgs(seed) { Py_DecRef(result) } else { PyErr_Clear() }
        Py_DecRef(seed)
        Py_DecRef(random)
    }

    /// Isolated config (no PYTHON* variables, no user site), Python's own
    /// signal handlers off (the host owns signals), unbuffered stdio (so app
    /// prints reach the log at once), and `program_name` inside the venv so
    /// `site` finds its `pyvenv.cfg`.
    private static func initialise(venv: String?) throws(StartError) {
        let programName: String
        if let venv {
            programName = venv + "/bin/python3"
            let sitePackages = "\(venv)/lib/python\(PY_MAJOR_VERSION).\(PY_MINOR_VERSION)/site-packages"
            guard access(programName, X_OK) == 0, access(sitePackages, R_OK) == 0 else {
                throw StartError(phase: "python-init", message: """
                    virtualenv \(venv) was not made by Python \(PY_MAJOR_VERSION).\(PY_MINOR_VERSION) (no \(sitePackages)); \
                    Tidepool embeds that libpython, so recreate it with: /usr/bin/python3 -m venv \(venv)
                    """)
            }
        } else {
            programName = "/usr/bin/python3"
        }
        let config = UnsafeMutablePointer<PyConfig>.allocate(capacity: 1)
        defer { config.deallocate() }
        PyConfig_InitIsolatedConfig(config)
        defer { PyConfig_Clear(config) }
        config.pointee.install_signal_handlers = 0
        config.pointee.buffered_stdio = 0
        var status = PyConfig_SetBytesString(config, &config.pointee.program_name, programName)
        if PyStatus_Exception(status) == 0 {
            status = Py_InitializeFromConfig(config)
        }
        if PyStatus_Exception(status) != 0 {
            let message = status.err_msg.map { String(cString: $0) } ?? "unknown error"
            throw StartError(phase: "python-init", message: "initialising Python (program_name \(programName)) failed: \(message)")
        }
    }

    private static func prependToPath(_ directory: String) -> Bool {
        guard let path = PySys_GetObject("path"), let entry = PyUnicode_DecodeFSDefault(directory) else { return false }
        defer { Py_DecRef(entry) }
        return PyList_Insert(path, 0, entry) == 0
    }
}

/// `(a, b)` as a new tuple of ints (Py_BuildValue is variadic, so not importable).
private func Py_BuildValueTuple(_ a: Int, _ b: Int) -> PyObjectPointer? {
    guard let tuple = PyTuple_New(2) else { return nil }
    PyTuple_SetItem(tuple, 0, PyLong_FromLong(a))
    PyTuple_SetItem(tuple, 1, PyLong_FromLong(b))
    return tuple
}
