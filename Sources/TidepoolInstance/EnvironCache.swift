import CPython

/// The Python objects the environ builder reuses from request to request:
/// interned keys, constant values, and bounded caches of the strings that
/// repeat (methods, host names, header names as CGI keys). Reusing them spares
/// an allocation, a UTF-8 decode and a hash per entry per request.
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
    let wsgiVersion = EnvironCache.interned("wsgi.version"), wsgiURLScheme = EnvironCache.interned("wsgi.url_scheme")
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

    /// Distinct strings a cache keeps before it stops adding (names are
    /// client-chosen, so the caches must not grow without bound).
    static let limit = 512
    private var headerKeys: [[UInt8]: HeaderKey] = [:]
    private var keysByCGIName: [[UInt8]: PyObjectPointer] = [:]
    private var strings: [String: PyObjectPointer] = [:]
    private var addresses: [String: PyObjectPointer] = [:]
    private var ports: [UInt16: PyObjectPointer] = [:]

    /// The environ key for a header name as it came off the wire. Names that
    /// differ only in case or `-` give the same object, so duplicates can be
    /// found by pointer comparison.
    func key(forHeader name: [UInt8]) -> HeaderKey {
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

    /// A new reference to a `str` equal to `text` (a method, host name or
    /// scheme: few distinct values), shared while the cache has room.
    func string(_ text: String) -> PyObjectPointer? {
        EnvironCache.shared(text, in: &strings) { Python.string(from: text) }
    }

    /// Like `string`, for client addresses (many values: a cache of their own,
    /// so they cannot crowd out the others).
    func address(_ text: String) -> PyObjectPointer? {
        EnvironCache.shared(text, in: &addresses) { Python.string(from: text) }
    }

    /// A new reference to the decimal `str` of a server port.
    func port(_ port: UInt16) -> PyObjectPointer? {
        EnvironCache.shared(port, in: &ports) { Python.string(from: String(port)) }
    }

    private static func shared<Key: Hashable>(_ key: Key, in cache: inout [Key: PyObjectPointer], make: () -> PyObjectPointer?) -> PyObjectPointer? {
        if let known = cache[key] {
            Py_IncRef(known)
            return known
        }
        guard let made = make() else { return nil }
        if cache.count < limit {
            Py_IncRef(made)
            cache[key] = made
        }
        return made
    }

    private static func interned(_ text: String) -> PyObjectPointer {
        guard let object = PyUnicode_InternFromString(text) else {
            fatalError("cannot create the environ key \(text)")
        }
        return object
    }
}
