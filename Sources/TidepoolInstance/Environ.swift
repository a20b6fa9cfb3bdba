import CPython
import TidepoolCore

/// Builds the PEP 3333 environ dict for a request, natively (no Python code).
///
/// The usual request takes the fast path: keys and repeating values come from
/// `EnvironCache`, the dict is presized, and header values are decoded straight
/// from the wire bytes. Repeated headers (which must be joined) and a full
/// cache take the general path through `joinedHeaders`.
final class Environ: @unchecked Sendable {
    // Invariant: immutable after init; `make` runs only with the GIL held,
    // which also guards `cache`.
    let runtime: PythonRuntime
    let multithread: Bool
    private let cache: EnvironCache

    /// Call with the GIL held.
    init(runtime: PythonRuntime, multithread: Bool) {
        self.runtime = runtime
        self.multithread = multithread
        self.cache = EnvironCache()
    }

    /// A new dict, or nil with a Python exception set.
    func make(for request: PendingRequest) -> PyObjectPointer? {
        let head = request.head
        guard let environ = _PyDict_NewPresized(20 + head.headers.count) else { return nil }
        let (path, query) = Environ.splitTarget(head.target)
        var ok = true
        /// Stores `value` (a new reference, consumed) under `key`; nil means a Python error is set.
        func set(_ key: PyObjectPointer, _ value: PyObjectPointer?) {
            guard let value else {
                ok = false
                return
            }
            if ok { ok = PyDict_SetItem(environ, key, value) == 0 }
            Py_DecRef(value)
        }
        func shared(_ object: PyObjectPointer) -> PyObjectPointer {
            Py_IncRef(object)
            return object
        }
        let c = cache

        set(c.requestMethod, c.string(head.method))
        set(c.scriptName, shared(c.empty))
        set(c.pathInfo, path.contains(UInt8(ascii: "%")) ? Python.latin1String(PercentDecoding.decode(path)) : Python.latin1String(path))
        set(c.queryString, query.isEmpty ? shared(c.empty) : Python.latin1String(query))
        set(c.serverName, c.string(head.serverName))
        set(c.serverPort, c.port(head.serverPort))
        set(c.serverProtocol, head.versionMajor == 1 && head.versionMinor == 1
            ? c.string("HTTP/1.1") : c.string("HTTP/\(head.versionMajor).\(head.versionMinor)"))
        set(c.remoteAddr, c.address(head.remoteAddress))
        set(c.remotePort, Python.string(from: String(head.remotePort)))

        if !setHeadersFast(head.headers, in: environ, hasBody: !request.body.isEmpty) {
            setHeadersJoined(head.headers, in: environ, hasBody: !request.body.isEmpty)
        }
        if !request.body.isEmpty {
            set(c.contentLength, Python.string(from: String(request.body.count)))
        }

        set(c.wsgiVersion, shared(runtime.wsgiVersion))
        set(c.wsgiURLScheme, c.string(head.scheme))
        set(c.wsgiInput, makeInput(request.body))
        set(c.wsgiInputTerminated, tp_true())
        set(c.wsgiErrors, PySys_GetObject("stderr").map(shared) ?? tp_none())
        set(c.wsgiMultithread, tp_bool(multithread ? 1 : 0))
        set(c.wsgiMultiprocess, tp_true())
        set(c.wsgiRunOnce, tp_false())
        guard ok, PyErr_Occurred() == nil else {
            Py_DecRef(environ)
            return nil
        }
        return environ
    }

    /// Sets the header entries when every name is cached and none repeats
    /// (the usual request); returns false, having set nothing, otherwise.
    private func setHeadersFast(_ headers: [Header], in environ: PyObjectPointer, hasBody: Bool) -> Bool {
        guard headers.count <= 64 else { return false }
        return withUnsafeTemporaryAllocation(of: EnvironCache.HeaderKey.self, capacity: headers.count) { keys in
            var lengthIndex: Int?
            for (index, header) in headers.enumerated() {
                let key = cache.key(forHeader: header.name)
                switch key {
                case .uncached: return false
                case .contentLength:
                    if lengthIndex != nil { return false }
                    lengthIndex = index
                case .dropped: break
                case .key(let object):
                    for earlier in 0..<index {
                        if case .key(let seen) = keys[earlier], seen == object { return false }
                    }
                }
                keys[index] = key
            }
            for (index, header) in headers.enumerated() {
                guard case .key(let object) = keys[index] else { continue }
                guard setLatin1(environ, object, header.value) else { return true }
            }
            if !hasBody, let lengthIndex {
                _ = setLatin1(environ, cache.contentLength, headers[lengthIndex].value)
            }
            return true
        }
    }

    /// Sets the header entries the general way: repeated headers joined.
    private func setHeadersJoined(_ headers: [Header], in environ: PyObjectPointer, hasBody: Bool) {
        var contentLength: [UInt8]?
        for (name, value) in Environ.joinedHeaders(headers) {
            switch name {
            case "CONTENT_TYPE": guard setLatin1(environ, cache.contentType, value) else { return }
            case "CONTENT_LENGTH": contentLength = value
            default:
                guard let key = Python.string(from: "HTTP_" + name) else { return }
                defer { Py_DecRef(key) }
                guard setLatin1(environ, key, value) else { return }
            }
        }
        if !hasBody, let contentLength {
            _ = setLatin1(environ, cache.contentLength, contentLength)
        }
    }

    /// `environ[key] = value.decode("latin-1")`; false with a Python error set.
    private func setLatin1(_ environ: PyObjectPointer, _ key: PyObjectPointer, _ value: [UInt8]) -> Bool {
        guard let object = value.withUnsafeBytes({ Python.latin1String($0) }) else { return false }
        defer { Py_DecRef(object) }
        return PyDict_SetItem(environ, key, object) == 0
    }

    /// `io.BytesIO(body)`: gives the app read(n), readline, readlines and iteration.
    private func makeInput(_ body: [UInt8]) -> PyObjectPointer? {
        if body.isEmpty { return PyObject_CallNoArgs(runtime.bytesIO) }
        let bytes = body.withUnsafeBytes { raw in
            PyBytes_FromStringAndSize(raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count)
        }
        guard let bytes else { return nil }
        defer { Py_DecRef(bytes) }
        return PyObject_CallOneArg(runtime.bytesIO, bytes)
    }

    /// Splits a request-target into its path (still percent-encoded) and raw
    /// query. An absolute-form target (`http://host/p`) keeps only its path.
    static func splitTarget(_ target: [UInt8]) -> (path: ArraySlice<UInt8>, query: ArraySlice<UInt8>) {
        var start = target.startIndex
        if target.first != UInt8(ascii: "/"), let schemeEnd = firstIndex(of: Array("://".utf8), in: target), target[..<schemeEnd].allSatisfy(isSchemeByte) {
            let authorityStart = schemeEnd + 3
            start = target[authorityStart...].firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") }) ?? target.endIndex
        }
        let rest = target[start...]
        guard let question = rest.firstIndex(of: UInt8(ascii: "?")) else { return (rest, []) }
        return (rest[..<question], rest[(question + 1)...])
    }

    /// Header names as CGI keys (upper-case, `-` → `_`), in first-seen order,
    /// with repeated headers joined by ", " (Cookie by "; ", as RFC 6265 wants).
    /// Names containing `_` are dropped: `X_Forwarded_For` would otherwise
    /// masquerade as `X-Forwarded-For` (gunicorn and nginx do the same).
    static func joinedHeaders(_ headers: [Header]) -> [(String, [UInt8])] {
        var order: [String] = []
        var values: [String: [UInt8]] = [:]
        for header in headers {
            guard !header.name.isEmpty, !header.name.contains(UInt8(ascii: "_")) else { continue }
            let key = String(decoding: cgiName(header.name), as: UTF8.self)
            if var existing = values[key] {
                existing.append(contentsOf: key == "COOKIE" ? Array("; ".utf8) : Array(", ".utf8))
                existing.append(contentsOf: header.value)
                values[key] = existing
            } else {
                order.append(key)
                values[key] = header.value
            }
        }
        return order.map { ($0, values[$0]!) }
    }

    /// A header name as a CGI name: upper-case, `-` → `_` (no `HTTP_` prefix).
    static func cgiName(_ name: [UInt8]) -> [UInt8] {
        name.map { byte -> UInt8 in
            if byte == UInt8(ascii: "-") { return UInt8(ascii: "_") }
            if byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") { return byte - 32 }
            return byte
        }
    }

    private static func isSchemeByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    private static func firstIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count, let first = needle.first else { return nil }
        var index = 0
        while index + needle.count <= haystack.count {
            if haystack[index] == first && Array(haystack[index..<(index + needle.count)]) == needle { return index }
            index += 1
        }
        return nil
    }
}
