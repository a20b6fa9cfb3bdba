import CPython

/// Small helpers over the C API. All of them require the GIL.
enum Python {
    /// Takes the pending exception and formats it like the interpreter would
    /// (`traceback.format_exception`), clearing the error indicator. Falls back
    /// to `str(exc)` if the traceback module itself fails.
    static func takeException() -> String {
        var type: PyObjectPointer?
        var value: PyObjectPointer?
        var traceback: PyObjectPointer?
        PyErr_Fetch(&type, &value, &traceback)
        guard type != nil else { return "(no Python exception was set)" }
        PyErr_NormalizeException(&type, &value, &traceback)
        defer {
            Py_DecRef(type)
            Py_DecRef(value)
            Py_DecRef(traceback)
        }
        guard let value else { return String(cString: tp_type_name(type!)) }
        if let traceback { PyException_SetTraceback(value, traceback) }
        if let text = formatException(value) { return text }
        PyErr_Clear()
        return string(ofObject: value) ?? String(cString: tp_type_name(value))
    }

    /// `"".join(traceback.format_exception(exc))`, or nil if that raised.
    private static func formatException(_ exception: PyObjectPointer) -> String? {
        guard let module = PyImport_ImportModule("traceback") else { return nil }
        defer { Py_DecRef(module) }
        guard let format = PyObject_GetAttrString(module, "format_exception") else { return nil }
        defer { Py_DecRef(format) }
        guard let lines = PyObject_CallOneArg(format, exception) else { return nil }
        defer { Py_DecRef(lines) }
        guard let empty = PyUnicode_FromString(""), let joined = PyUnicode_Join(empty, lines) else { return nil }
        defer {
            Py_DecRef(empty)
            Py_DecRef(joined)
        }
        return string(joined)
    }

    /// A Python `str` as a Swift String (lossy for lone surrogates), or nil if `object` is not a str.
    static func string(_ object: PyObjectPointer) -> String? {
        guard tp_unicode_check(object) != 0 else { return nil }
        guard let utf8 = PyUnicode_AsEncodedString(object, "utf-8", "surrogateescape") ?? PyUnicode_AsEncodedString(object, "utf-8", "replace") else {
            PyErr_Clear()
            return nil
        }
        defer { Py_DecRef(utf8) }
        return bytesToString(utf8)
    }

    /// `str(object)` as a Swift String, or nil if `str()` raised.
    static func string(ofObject object: PyObjectPointer) -> String? {
        guard let text = PyObject_Str(object) else {
            PyErr_Clear()
            return nil
        }
        defer { Py_DecRef(text) }
        return string(text)
    }

    /// The latin-1 bytes of a `str` (the WSGI "native string" rule), or nil if
    /// it is not a str or holds a code point above U+00FF.
    static func latin1Bytes(_ object: PyObjectPointer) -> [UInt8]? {
        withLatin1Bytes(object) { Array($0) }
    }

    /// Calls `body` with the latin-1 bytes of a `str` (in place when it is
    /// stored as ASCII, the usual case); nil if `object` is not a str or
    /// holds a code point above U+00FF.
    static func withLatin1Bytes<R>(_ object: PyObjectPointer, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        var length: Py_ssize_t = 0
        if let ascii = tp_ascii_data(object, &length) {
            return body(UnsafeRawBufferPointer(start: ascii, count: Int(length)))
        }
        guard tp_unicode_check(object) != 0 else { return nil }
        guard let encoded = PyUnicode_AsLatin1String(object) else {
            PyErr_Clear()
            return nil
        }
        defer { Py_DecRef(encoded) }
        var pointer: UnsafeMutablePointer<CChar>?
        guard PyBytes_AsStringAndSize(encoded, &pointer, &length) == 0 else {
            PyErr_Clear()
            return nil
        }
        return body(UnsafeRawBufferPointer(start: pointer, count: Int(length)))
    }

    /// The contents of a `bytes` object.
    static func bytes(_ object: PyObjectPointer) -> [UInt8] {
        var pointer: UnsafeMutablePointer<CChar>?
        var length: Py_ssize_t = 0
        guard PyBytes_AsStringAndSize(object, &pointer, &length) == 0, let pointer else {
            PyErr_Clear()
            return []
        }
        return Array(UnsafeRawBufferPointer(start: pointer, count: Int(length)))
    }

    private static func bytesToString(_ object: PyObjectPointer) -> String {
        String(decoding: bytes(object), as: UTF8.self)
    }

    /// A new `str` decoded from latin-1 bytes (never fails for valid memory).
    static func latin1String(_ bytes: some Collection<UInt8>) -> PyObjectPointer? {
        if let direct = bytes.withContiguousStorageIfAvailable({ latin1String(UnsafeRawBufferPointer($0)) }) { return direct }
        return Array(bytes).withUnsafeBytes { latin1String($0) }
    }

    /// A new `str` decoded from latin-1 bytes in memory.
    static func latin1String(_ raw: UnsafeRawBufferPointer) -> PyObjectPointer? {
        PyUnicode_DecodeLatin1(raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count, nil)
    }

    /// A new `str` from a Swift String.
    static func string(from text: String) -> PyObjectPointer? {
        PyUnicode_FromStringAndSize(text, text.utf8.count)
    }

    /// Raises `type(message)` in Python and returns nil, for use as a C callback's result.
    static func raise(_ type: PyObjectPointer, _ message: String) -> PyObjectPointer? {
        PyErr_SetString(type, message)
        return nil
    }
}
