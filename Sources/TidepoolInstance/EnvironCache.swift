import CPython

/// The Python objects the environ builder reuses from request to request:
/// interned keys, a template dict of the constant entries, and bounded caches
/// of the strings that repeat (methods, host names, header names as CGI keys).
/// Reusing them spares an allocation, a decode and a hash per entry per request.
///
/// Strings are immutable, so sharing one object between concurrent requests
/// is invisible to apps.
final class EnvironCache: @unchecked Sendable {
    // Invariant: created and used only with the GIL held (the GIL serialises
    // every handler thread that touches the caches); the constant pointers
    // never change and hold a strong reference for the life of the process.

    /// Interned keys of the fixed entries.
    let requestMethod = EnvironCache.interned("REQUEST_METHOD"), scriptName = EnvironCache.interned("SCRIPT_NAME")
    let pathInfo = EnvironCache.interned("PATH_INFO"), queryString = EnvironCache.interned("QUERY_STRING")
    let serverName = EnvironCache.interned("SERVER_NAME"), serverPort = EnvironCache.interned("SERVER_PORT")
    let serverProtocol = EnvironCache.interned("SERVER_PROTOCOL"), remoteAddr = EnvironCache.interned("REMOTE_ADDR")
    let remotePort = EnvironCache.interned("REMOTE_PORT"), contentType = EnvironCache.interned("CONTENT_TYPE")
    let contentLength = EnvironCache.interned("CONTENT_LENGTH")
    let wsgiVersionKey = EnvironCache.interned("wsgi.version"), wsgiURLScheme = EnvironCache.interned("wsgi.url_scheme")
    let wsgiInput = EnvironCache.interned("wsgi.input"), wsgiInputTerminated = EnvironCache.interned("wsgi.input_terminated")
    let wsgiErrors = EnvironCache.interned("wsgi.errors"), wsgiMultithread = EnvironCache.interned("wsgi.multithread")
    let wsgiMultiprocess = EnvironCache.interned("wsgi.multiprocess"), wsgiRunOnce = EnvironCache.interned("wsgi.run_once")
    /// `""`, the value of SCRIPT_NAME and of an empty query.
    let empty = EnvironCache.interned("")

    /// What a request header becomes in the environ.
    enum HeaderKey {
        /// Not passed on (an empty name, or one containing `_`).
        case dropped
        /// `CONTENT_LENGTH`, which the builder sets itself.
        case contentLength
        /// Stored under this key (borrowed; equal names give the same object).
        case key(PyObjectPointer)
        /// The cache is full: the caller takes the uncached path.
        case uncached
    }

    /// Distinct header names the name cache keeps before it stops adding
    /// (names are client-chosen, so it must not grow without bound).
    static let limit = 512
    private var headerKeys: [[UInt8]: HeaderKey] = [:]
    private var keysByCGIName: [[UInt8]: PyObjectPointer] = [:]

    /// Header positions remembered: clients send the same names in the same
    /// order request after request, so comparing a name with the one seen at
    /// its position spares hashing it.
    static let positions = 64
    private var namesByPosition = [[UInt8]](repeating: [], count: EnvironCache.positions)
    private var keysByPosition = [HeaderKey](repeating: .uncached, count: EnvironCache.positions)

    /// Recent values of the head's UTF-8 fields (a few entries each: a miss
    /// costs what no cache would).
    let methods = RecentStrings(capacity: 4)
    let serverNames = RecentStrings(capacity: 2)
    let schemes = RecentStrings(capacity: 2)
    let addresses = RecentStrings(capacity: 4)
    private var lastPort: (port: UInt16, object: PyObjectPointer)?
    private let http11 = EnvironCache.interned("HTTP/1.1")
    private let stderrName = EnvironCache.interned("stderr")
    /// `sys.__dict__` (borrowed: sys lives as long as the interpreter), where
    /// `sys.stderr` is looked up for each request, since an app may replace it.
    private let sysDict: PyObjectPointer?

    /// A dict of the entries that never change (SCRIPT_NAME and the wsgi.*
    /// constants): each environ starts as a copy of it, which costs less than
    /// setting them one by one.
    private let template: PyObjectPointer
    /// The template's room (a presized dict keeps it in its copies): enough
    /// for the usual request, so its environ never grows.
    private static let templateRoom = 42
    private let wsgiVersion: PyObjectPointer
    private let multithread: Bool

    /// Call with the GIL held.
    init(wsgiVersion: PyObjectPointer, multithread: Bool) {
        self.wsgiVersion = wsgiVersion
        self.multithread = multithread
        if let sys = PyImport_ImportModule("sys") {
            sysDict = PyModule_GetDict(sys)
            Py_DecRef(sys)
        } else {
            PyErr_Clear()
            sysDict = nil
        }
        guard let template = _PyDict_NewPresized(EnvironCache.templateRoom) else {
            fatalError("cannot create the environ template")
        }
        self.template = template
        guard setConstants(in: template) else { fatalError("cannot fill the environ template") }
    }

    /// A new environ dict holding the constant entries, with room for
    /// `extra` more; nil with a Python error set.
    func newEnviron(extra: Int) -> PyObjectPointer? {
        if extra + 6 <= EnvironCache.templateRoom { return PyDict_Copy(template) }
        guard let dict = _PyDict_NewPresized(extra + 6) else { return nil }
        guard setConstants(in: dict) else {
            Py_DecRef(dict)
            return nil
        }
        return dict
    }

    /// Sets the six constant entries; false with a Python error set.
    private func setConstants(in dict: PyObjectPointer) -> Bool {
        let entries: [(key: PyObjectPointer, value: PyObjectPointer?)] = [
            (scriptName, EnvironCache.newReference(empty)), (wsgiVersionKey, EnvironCache.newReference(wsgiVersion)),
            (wsgiInputTerminated, tp_true()), (wsgiMultithread, tp_bool(multithread ? 1 : 0)),
            (wsgiMultiprocess, tp_true()), (wsgiRunOnce, tp_false()),
        ]
        var ok = true
        for entry in entries {
            guard let value = entry.value else {
                ok = false
                continue
            }
            if ok { ok = PyDict_SetItem(dict, entry.key, value) == 0 }
            Py_DecRef(value)
        }
        return ok
    }

    /// A new reference to `""`.
    func emptyString() -> PyObjectPointer {
        EnvironCache.newReference(empty)
    }

    /// The current `sys.stderr` (a new reference; None if there is none).
    func stderr() -> PyObjectPointer? {
        guard let sysDict, let stream = PyDict_GetItemWithError(sysDict, stderrName) else {
            PyErr_Clear()
            return tp_none()
        }
        return EnvironCache.newReference(stream)
    }

    /// SERVER_PROTOCOL: `HTTP/1.1` shared, any other version made.
    func serverProtocol(major: UInt8, minor: UInt8) -> PyObjectPointer? {
        if major == 1 && minor == 1 { return EnvironCache.newReference(http11) }
        return Python.string(from: "HTTP/\(major).\(minor)")
    }

    /// A new reference to the decimal `str` of a server port (the last one is kept).
    func port(_ port: UInt16) -> PyObjectPointer? {
        if let lastPort, lastPort.port == port { return EnvironCache.newReference(lastPort.object) }
        guard let made = Python.string(from: String(port)) else { return nil }
        if let old = lastPort?.object { Py_DecRef(old) }
        lastPort = (port, EnvironCache.newReference(made))
        return made
    }

    /// The environ key for the header name at `position` in the head.
    func key(forHeader name: ArraySlice<UInt8>, at position: Int) -> HeaderKey {
        guard position < EnvironCache.positions else { return key(forHeader: Array(name)) }
        if RecentStrings.equal(namesByPosition[position], name) { return keysByPosition[position] }
        let bytes = Array(name)
        let key = key(forHeader: bytes)
        if case .uncached = key { return key }
        namesByPosition[position] = bytes
        keysByPosition[position] = key
        return key
    }

    /// The environ key for a header name as it came off the wire. Names that
    /// differ only in case or `-` give the same object, so duplicates can be
    /// found by pointer comparison.
    private func key(forHeader name: [UInt8]) -> HeaderKey {
        if let known = headerKeys[name] { return known }
        guard headerKeys.count < EnvironCache.limit else { return .uncached }
        let result: HeaderKey
        if name.isEmpty || name.contains(UInt8(ascii: "_")) {
            result = .dropped
        } else {
            let cgi = Environ.cgiName(name)
            if cgi == Array("CONTENT_LENGTH".utf8) {
                result = .contentLength
            } else if cgi == Array("CONTENT_TYPE".utf8) {
                result = .key(contentType)
            } else if let key = keysByCGIName[cgi] {
                result = .key(key)
            } else {
                let key = (Array("HTTP_".utf8) + cgi).withUnsafeBytes { raw in
                    PyUnicode_DecodeLatin1(raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count, nil)
                }
                guard key != nil else {
                    PyErr_Clear()
                    return .uncached
                }
                var interned = key
                PyUnicode_InternInPlace(&interned)
                guard let key = interned else { return .uncached }
                keysByCGIName[cgi] = key
                result = .key(key)
            }
        }
        headerKeys[name] = result
        return result
    }

    private static func newReference(_ object: PyObjectPointer) -> PyObjectPointer {
        Py_IncRef(object)
        return object
    }

    private static func interned(_ text: String) -> PyObjectPointer {
        guard let object = PyUnicode_InternFromString(text) else {
            fatalError("cannot create the environ key \(text)")
        }
        return object
    }
}
