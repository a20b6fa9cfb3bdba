import CPython
import TidepoolCore

/// Builds the PEP 3333 environ dict for a request, natively (no Python code).
struct Environ {
    let runtime: PythonRuntime
    let multithread: Bool

    /// A new dict, or nil with a Python exception set.
    func make(for request: PendingRequest) -> PyObjectPointer? {
        guard let environ = PyDict_New() else { return nil }
        let head = request.head
        let (path, query) = Environ.splitTarget(head.target)
        var ok = true
        /// Stores `value` (a new reference, consumed) under `key`; nil means a Python error is set.
        func set(_ key: String, _ value: PyObjectPointer?) {
            guard let value else {
                ok = false
                return
            }
            if ok { ok = PyDict_SetItemString(environ, key, value) == 0 }
            Py_DecRef(value)
        }
        func setString(_ key: String, _ value: String) { set(key, Python.string(from: value)) }
        func setLatin1(_ key: String, _ value: some Collection<UInt8>) { set(key, Python.latin1String(value)) }

        setString("REQUEST_METHOD", head.method)
        setString("SCRIPT_NAME", "")
        setLatin1("PATH_INFO", PercentDecoding.decode(path))
        setLatin1("QUERY_STRING", query)
        setString("SERVER_NAME", head.serverName)
        setString("SERVER_PORT", String(head.serverPort))
        setString("SERVER_PROTOCOL", "HTTP/\(head.versionMajor).\(head.versionMinor)")
        setString("REMOTE_ADDR", head.remoteAddress)
        setString("REMOTE_PORT", String(head.remotePort))

        var contentLength: [UInt8]?
        for (name, value) in Environ.joinedHeaders(head.headers) {
            switch name {
            case "CONTENT_TYPE": setLatin1("CONTENT_TYPE", value)
            case "CONTENT_LENGTH": contentLength = value
            default: setLatin1("HTTP_" + name, value)
            }
        }
        if !request.body.isEmpty {
            setString("CONTENT_LENGTH", String(request.body.count))
        } else if let contentLength {
            setLatin1("CONTENT_LENGTH", contentLength)
        }

        Py_IncRef(runtime.wsgiVersion)
        set("wsgi.version", runtime.wsgiVersion)
        setString("wsgi.url_scheme", head.scheme)
        set("wsgi.input", makeInput(request.body))
        set("wsgi.input_terminated", tp_true())
        if let stderr = PySys_GetObject("stderr") {
            Py_IncRef(stderr)
            set("wsgi.errors", stderr)
        } else {
            set("wsgi.errors", tp_none())
        }
        set("wsgi.multithread", tp_bool(multithread ? 1 : 0))
        set("wsgi.multiprocess", tp_true())
        set("wsgi.run_once", tp_false())
        guard ok else {
            Py_DecRef(environ)
            return nil
        }
        return environ
    }

    /// `io.BytesIO(body)`: gives the app read(n), readline, readlines and iteration.
    private func makeInput(_ body: [UInt8]) -> PyObjectPointer? {
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
            let key = String(decoding: header.name.map { byte -> UInt8 in
                if byte == UInt8(ascii: "-") { return UInt8(ascii: "_") }
                if byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") { return byte - 32 }
                return byte
            }, as: UTF8.self)
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
