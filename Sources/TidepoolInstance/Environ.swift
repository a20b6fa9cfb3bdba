import CPython
import TidepoolCore

/// Builds the PEP 3333 environ dict for a request, natively (no Python code).
///
/// The usual request takes the fast path: the dict starts as a copy of one
/// holding the constant entries, keys and repeating values come from
/// `EnvironCache`, and every value is decoded straight from the head's wire
/// bytes (`RequestHeadView`), with no Swift String in between. Repeated headers (which must be joined) and a full
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
        self.cache = EnvironCache(wsgiVersion: runtime.wsgiVersion, multithread: multithread)
    }

    /// A new dict, or nil with a Python exception set.
    func make(for request: PendingRequest) -> PyObjectPointer? {
        let head = request.head
        let payload = head.payload
        let hasBody = !request.body.isEmpty
        guard let environ = cache.newEnviron(extra: 14 + head.headerCount) else { return nil }
        let (path, query) = Environ.splitTarget(payload[head.target])
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
        let c = cache

        set(c.requestMethod, c.methods.string(payload[head.method]))
        set(c.pathInfo, path.contains(UInt8(ascii: "%")) ? Python.latin1String(PercentDecoding.decode(path)) : Python.latin1String(path))
        set(c.queryString, query.isEmpty ? c.emptyString() : Python.latin1String(query))
        set(c.serverName, c.serverNames.string(payload[head.serverName]))
        set(c.serverPort, c.port(head.serverPort))
        set(c.serverProtocol, c.serverProtocol(major: head.versionMajor, minor: head.versionMinor))
        set(c.remoteAddr, c.addresses.string(payload[head.remoteAddress]))
        set(c.remotePort, Environ.decimal(head.remotePort))

        if !setHeadersFast(head, in: environ, hasBody: hasBody) {
            setHeadersJoined(head.head.headers, in: environ, hasBody: hasBody)
        }
        if hasBody {
            set(c.contentLength, Python.string(from: String(request.body.count)))
        }

        set(c.wsgiURLScheme, c.schemes.string(payload[head.scheme]))
        set(c.wsgiInput, makeInput(request.body))
        set(c.wsgiErrors, c.stderr())
        guard ok, PyErr_Occurred() == nil else {
            Py_DecRef(environ)
            return nil
        }
        return environ
    }

    /// Sets the header entries when every name is cached and none repeats
    /// (the usual request); returns false, having set nothing, otherwise.
    private func setHeadersFast(_ head: RequestHeadView, in environ: PyObjectPointer, hasBody: Bool) -> Bool {
        let count = head.headerCount
        guard count <= EnvironCache.positions else { return false }
        let payload = head.payload
        return withUnsafeTemporaryAllocation(of: (key: EnvironCache.HeaderKey, value: Range<Int>).self, capacity: count) { keys in
            var lengthIndex: Int?
            var index = 0
            var usable = true
            head.forEachHeader { name, value in
                guard usable else { return }
                let key = cache.key(forHeader: payload[name], at: index)
                switch key {
                case .uncached: usable = false
                case .contentLength:
                    if lengthIndex != nil { usable = false }
                    lengthIndex = index
                case .dropped: break
                case .key(let object):
                    for earlier in 0..<index {
                        if case .key(let seen) = keys[earlier].key, seen == object { usable = false }
                    }
                }
                keys[index] = (key, value)
                index += 1
            }
            guard usable else { return false }
            for entry in keys.prefix(count) {
                guard case .key(let object) = entry.key else { continue }
                guard setLatin1(environ, object, payload[entry.value]) else { return true }
            }
            if !hasBody, let lengthIndex {
                _ = setLatin1(environ, cache.contentLength, payload[keys[lengthIndex].value])
            }
            return true
        }
    }

    /// The decimal `str` of a port (the remote port changes with every connection: not cached).
    private static func decimal(_ number: UInt16) -> PyObjectPointer? {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 5) { digits in
            var value = number
            var start = 5
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            } while value > 0
            return Python.latin1String(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(digits)[start..<5]))
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
    private func setLatin1(_ environ: PyObjectPointer, _ key: PyObjectPointer, _ value: some Collection<UInt8>) -> Bool {
        guard let object = Python.latin1String(value) else { return false }
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
    static func splitTarget(_ target: ArraySlice<UInt8>) -> (path: ArraySlice<UInt8>, query: ArraySlice<UInt8>) {
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

    private static func firstIndex(of needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Int? {
        guard haystack.count >= needle.count, let first = needle.first else { return nil }
        var index = haystack.startIndex
        while index + needle.count <= haystack.endIndex {
            if haystack[index] == first && haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }
}
