import CPython
import Glibc
import TidepoolCore

/// The native `start_response` and `write` callables (PEP 3333), as C
/// functions in heap-allocated `PyMethodDef`s, bound per request with
/// `PyCMethod_New` to a capsule that holds the request's `Response`.
final class NativeCallables: @unchecked Sendable {
    // Invariant: both definitions are allocated once, never mutated after
    // init and never freed (Python keeps pointers to them in every bound method).
    private let startResponseDef: UnsafeMutablePointer<PyMethodDef>
    private let writeDef: UnsafeMutablePointer<PyMethodDef>

    init() {
        let withKeywords: @convention(c) (PyObjectPointer?, PyObjectPointer?, PyObjectPointer?) -> PyObjectPointer? = startResponseFunction
        startResponseDef = .allocate(capacity: 1)
        startResponseDef.initialize(to: PyMethodDef(
            ml_name: UnsafePointer(strdup("start_response")),
            ml_meth: unsafeBitCast(withKeywords, to: PyCFunction.self),
            ml_flags: METH_VARARGS | METH_KEYWORDS,
            ml_doc: UnsafePointer(strdup("start_response(status, response_headers, exc_info=None) -> write"))
        ))
        let oneArgument: @convention(c) (PyObjectPointer?, PyObjectPointer?) -> PyObjectPointer? = writeFunction
        writeDef = .allocate(capacity: 1)
        writeDef.initialize(to: PyMethodDef(
            ml_name: UnsafePointer(strdup("write")),
            ml_meth: oneArgument,
            ml_flags: METH_O,
            ml_doc: UnsafePointer(strdup("write(data): send bytes at once (the PEP 3333 imperative API)"))
        ))
    }

    /// A new capsule owning a strong reference to `response`, released when
    /// Python frees the capsule (so a late call from the app never dangles).
    func capsule(for response: Response) -> PyObjectPointer? {
        let pointer = Unmanaged.passRetained(response).toOpaque()
        guard let capsule = PyCapsule_New(pointer, nil, releaseResponseCapsule) else {
            Unmanaged<Response>.fromOpaque(pointer).release()
            return nil
        }
        return capsule
    }

    /// Points `capsule` (made by `capsule(for:)`) at another response: the
    /// new one is retained, the old one released.
    func rebind(_ capsule: PyObjectPointer, to response: Response) {
        let old = PyCapsule_GetPointer(capsule, nil)
        PyCapsule_SetPointer(capsule, Unmanaged.passRetained(response).toOpaque())
        if let old { Unmanaged<Response>.fromOpaque(old).release() }
    }

    /// `start_response` bound to the request's capsule (new reference).
    func startResponse(boundTo capsule: PyObjectPointer) -> PyObjectPointer? {
        PyCMethod_New(startResponseDef, capsule, nil, nil)
    }

    /// `write` bound to the request's capsule (new reference).
    func write(boundTo capsule: PyObjectPointer) -> PyObjectPointer? {
        PyCMethod_New(writeDef, capsule, nil, nil)
    }
}

/// The capsule destructor: drops the reference `capsule(for:)` took.
private func releaseResponseCapsule(_ capsule: PyObjectPointer?) {
    guard let capsule, let pointer = PyCapsule_GetPointer(capsule, nil) else { return }
    Unmanaged<Response>.fromOpaque(pointer).release()
}

private func response(in capsule: PyObjectPointer?) -> Response? {
    guard let capsule, let pointer = PyCapsule_GetPointer(capsule, nil) else { return nil }
    return Unmanaged<Response>.fromOpaque(pointer).takeUnretainedValue()
}

/// `start_response(status, response_headers, exc_info=None)`.
private func startResponseFunction(_ capsule: PyObjectPointer?, _ args: PyObjectPointer?, _ kwargs: PyObjectPointer?) -> PyObjectPointer? {
    guard let response = response(in: capsule), let args else {
        return Python.raise(tp_exc_runtime_error(), "start_response is not bound to a request")
    }
    guard !response.finished else {
        return Python.raise(tp_exc_runtime_error(), "start_response called after the response ended")
    }
    let count = PyTuple_Size(args)
    var excInfo: PyObjectPointer? = count == 3 ? PyTuple_GetItem(args, 2) : nil
    if let kwargs, PyDict_Size(kwargs) > 0 {
        guard count == 2, PyDict_Size(kwargs) == 1, let keyword = PyDict_GetItemString(kwargs, "exc_info") else {
            return Python.raise(tp_exc_type_error(), "start_response() takes (status, response_headers, exc_info=None)")
        }
        excInfo = keyword
    }
    guard count == 2 || count == 3 else {
        response.violate("start_response called with \(count) arguments")
        return Python.raise(tp_exc_type_error(), "start_response() takes (status, response_headers, exc_info=None), got \(count) arguments")
    }
    if let info = excInfo, tp_is_none(info) != 0 { excInfo = nil }

    if let excInfo {
        if response.headWritten {
            // PEP 3333: the head is out, so the error cannot become a new
            // response; re-raise it so the app stops.
            guard tp_tuple_check(excInfo) != 0, PyTuple_Size(excInfo) == 3 else {
                return Python.raise(tp_exc_type_error(), "start_response: exc_info must be a (type, value, traceback) tuple")
            }
            let type = PyTuple_GetItem(excInfo, 0), value = PyTuple_GetItem(excInfo, 1), traceback = PyTuple_GetItem(excInfo, 2)
            Py_IncRef(type)
            Py_IncRef(value)
            Py_IncRef(traceback)
            PyErr_Restore(type, value, traceback)
            return nil
        }
    } else if response.status != nil {
        let reason = "start_response called a second time without exc_info"
        response.violate(reason)
        return Python.raise(tp_exc_assertion_error(), reason)
    }

    let head: ParsedHead
    switch ParsedHead.parse(status: PyTuple_GetItem(args, 0)!, headers: PyTuple_GetItem(args, 1)!) {
    case .success(let parsed): head = parsed
    case .failure(let error):
        response.violate(error.reason)
        return Python.raise(tp_exc_value_error(), error.reason)
    }
    response.setHead(code: head.code, reason: head.reason, headers: head.headers, declaredLength: head.declaredLength)
    guard let capsule else { return nil }
    // The handler thread's cached `write` (see ThreadCallables), if any.
    if let cached = PyCapsule_GetContext(capsule) {
        let write = cached.assumingMemoryBound(to: PyObject.self)
        Py_IncRef(write)
        return write
    }
    PyErr_Clear()
    return response.callables.write(boundTo: capsule)
}

/// `write(data)`: sends `data` (bytes) at once, head first if it has not gone out.
private func writeFunction(_ capsule: PyObjectPointer?, _ data: PyObjectPointer?) -> PyObjectPointer? {
    guard let response = response(in: capsule), let data else {
        return Python.raise(tp_exc_runtime_error(), "write is not bound to a request")
    }
    guard !response.finished else {
        return Python.raise(tp_exc_runtime_error(), "write() called after the response ended")
    }
    guard tp_bytes_check(data) != 0 else {
        let reason = "write() takes bytes, not \(String(cString: tp_type_name(data)))"
        response.violate(reason)
        return Python.raise(tp_exc_type_error(), reason)
    }
    if response.isCancelled { return tp_none() }
    guard response.append(bytesObject: data) else {
        return Python.raise(tp_exc_value_error(), response.violation ?? "invalid write()")
    }
    response.flush()
    return tp_none()
}

/// A validated `start_response(status, headers)` pair.
struct ParsedHead {
    var code: UInt16
    var reason: String
    /// The headers in their wire form.
    var headers: HeaderBlock
    var declaredLength: Int?

    struct Invalid: Error {
        var reason: String
    }

    /// Checks the status (`"200 OK"`: three digits, a space, a reason) and the
    /// headers (a list of `(str, str)` pairs, latin-1, no CR/LF, names without
    /// separators), and reads the app's Content-Length.
    static func parse(status: PyObjectPointer, headers list: PyObjectPointer) -> Result<ParsedHead, Invalid> {
        guard let statusBytes = Python.latin1Bytes(status) else {
            return .failure(Invalid(reason: "the status must be a latin-1 str like '200 OK', not \(describe(status))"))
        }
        guard statusBytes.count >= 4, statusBytes[0...2].allSatisfy(isDigit), statusBytes[3] == UInt8(ascii: " "),
              !statusBytes.contains(where: isControl),
              case let code = statusBytes[0...2].reduce(UInt16(0), { $0 * 10 + UInt16($1 - UInt8(ascii: "0")) }), code >= 100 else {
            return .failure(Invalid(reason: "the status \(quote(statusBytes)) does not look like '200 OK'"))
        }
        let reason = statusBytes[4...].allSatisfy({ $0 < 0x80 })
            ? String(decoding: statusBytes[4...], as: UTF8.self) : Latin1.string(statusBytes[4...])
        guard tp_list_check(list) != 0 || tp_tuple_check(list) != 0 else {
            return .failure(Invalid(reason: "response_headers must be a list of (name, value) tuples, not \(String(cString: tp_type_name(list)))"))
        }
        let count = PySequence_Size(list)
        var headers = HeaderBlock()
        var declaredLength: Int?
        for index in 0..<count {
            guard let item = PySequence_GetItem(list, index) else {
                PyErr_Clear()
                return .failure(Invalid(reason: "response_headers[\(index)] cannot be read"))
            }
            defer { Py_DecRef(item) }
            guard tp_tuple_check(item) != 0 || tp_list_check(item) != 0, PySequence_Size(item) == 2,
                  let nameObject = PySequence_GetItem(item, 0) else {
                PyErr_Clear()
                return .failure(Invalid(reason: "response_headers[\(index)] is not a (name, value) tuple"))
            }
            defer { Py_DecRef(nameObject) }
            guard let valueObject = PySequence_GetItem(item, 1) else {
                PyErr_Clear()
                return .failure(Invalid(reason: "response_headers[\(index)] is not a (name, value) tuple"))
            }
            defer { Py_DecRef(valueObject) }
            // The name and value are read in place (no copy) and go straight
            // into the wire block once both are valid.
            func badName() -> Invalid {
                Invalid(reason: "header name \(describe(nameObject)) must be a non-empty latin-1 str without ':', spaces, CR or LF")
            }
            let outcome = Python.withLatin1Bytes(nameObject) { name -> Invalid? in
                guard !name.isEmpty,
                      !name.contains(where: { isControl($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: " ") }) else {
                    return badName()
                }
                func badValue() -> Invalid {
                    Invalid(reason: "header \(quote(name)) has value \(describe(valueObject)), which must be a latin-1 str without CR or LF")
                }
                let valueOutcome = Python.withLatin1Bytes(valueObject) { value -> Invalid? in
                    guard !value.contains(where: isControl) else { return badValue() }
                    if isContentLength(name) {
                        guard let length = Int(String(decoding: value.filter { $0 != UInt8(ascii: " ") }, as: UTF8.self)), length >= 0 else {
                            return Invalid(reason: "Content-Length \(quote(value)) is not a number")
                        }
                        declaredLength = length
                    }
                    headers.append(name: name, value: value)
                    return nil
                }
                return valueOutcome ?? badValue()
            }
            if let invalid = outcome ?? badName() { return .failure(invalid) }
        }
        return .success(ParsedHead(code: code, reason: reason, headers: headers, declaredLength: declaredLength))
    }

    /// `name` is "content-length" in any case (ASCII case folding only, like HTTP).
    private static func isContentLength(_ name: UnsafeRawBufferPointer) -> Bool {
        let expected: StaticString = "content-length"
        guard name.count == expected.utf8CodeUnitCount else { return false }
        // (`| 0x20` folds A-Z; the only other byte it maps onto "-" is CR, rejected above.)
        for index in 0..<name.count where name[index] | 0x20 != expected.utf8Start[index] { return false }
        return true
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
    private static func isControl(_ byte: UInt8) -> Bool { byte == 13 || byte == 10 || byte == 0 }

    private static func quote(_ bytes: some Collection<UInt8>) -> String {
        "'" + Latin1.string(bytes.prefix(200)).debugDescription.dropFirst().dropLast() + "'"
    }

    private static func describe(_ object: PyObjectPointer) -> String {
        let repr = PyObject_Repr(object).flatMap { repr in
            defer { Py_DecRef(repr) }
            return Python.string(repr)
        }
        if repr == nil { PyErr_Clear() }
        return String((repr ?? String(cString: tp_type_name(object))).prefix(200))
    }
}
