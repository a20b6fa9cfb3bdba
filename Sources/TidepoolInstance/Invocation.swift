import CPython
import TidepoolCore

/// One call of the WSGI app: `app(environ, start_response)`, iteration of
/// what it returns, `close()`, and the response or failure that follows.
/// Runs on a handler thread with the GIL held; never lets an app error escape.
struct Invocation {
    let runtime: PythonRuntime
    let environ: Environ
    let response: Response
    /// The handler thread's reusable `start_response` and `write`.
    let bound: ThreadCallables

    /// What went wrong, for the `log` frame and the 500 / aborted end.
    private struct Failure {
        var reason: String
        var traceback: String?
    }

    func run() {
        let failure = callAndIterate()
        bound.requestEnded()
        if response.isCancelled {
            response.endCancelled()
        } else if let failure {
            response.fail(reason: failure.reason, traceback: failure.traceback)
        } else {
            response.complete()
        }
    }

    /// Calls the app and walks its iterable; `close()` is always called on
    /// whatever the app returned, even when iteration failed.
    private func callAndIterate() -> Failure? {
        guard let environDict = environ.make(for: response.request) else {
            return Failure(reason: "building the WSGI environ failed", traceback: Python.takeException())
        }
        guard let startResponse = bound.startResponse(for: response) else {
            Py_DecRef(environDict)
            return Failure(reason: "binding start_response failed", traceback: Python.takeException())
        }
        guard let args = PyTuple_New(2) else {
            Py_DecRef(environDict)
            Py_DecRef(startResponse)
            return Failure(reason: "building the app's arguments failed", traceback: Python.takeException())
        }
        PyTuple_SetItem(args, 0, environDict)  // steals
        PyTuple_SetItem(args, 1, startResponse)  // steals
        let result = PyObject_Call(runtime.app, args, nil)
        Py_DecRef(args)
        guard let result else {
            return Failure(reason: response.violation ?? "the app raised an exception", traceback: Python.takeException())
        }
        var failure = iterate(result)
        if let closeFailure = close(result) {
            if var earlier = failure {
                earlier.traceback = (earlier.traceback ?? "") + "\nclose() also raised:\n" + (closeFailure.traceback ?? "")
                failure = earlier
            } else {
                failure = closeFailure
            }
        }
        Py_DecRef(result)
        return failure
    }

    /// Sends each chunk as it comes, unless the iterable is a list or tuple
    /// (or has reached its declared length): then everything waits for the
    /// end and goes out in one write.
    private func iterate(_ result: PyObjectPointer) -> Failure? {
        let batched = tp_list_or_tuple_exact(result) != 0
        guard let iterator = PyObject_GetIter(result) else {
            PyErr_Clear()
            return Failure(reason: "the app returned a \(String(cString: tp_type_name(result))), which is not an iterable of bytes", traceback: nil)
        }
        defer { Py_DecRef(iterator) }
        while !response.isCancelled {
            guard let item = PyIter_Next(iterator) else {
                if PyErr_Occurred() != nil {
                    return Failure(reason: response.violation ?? "the app raised while producing the body", traceback: Python.takeException())
                }
                return nil
            }
            defer { Py_DecRef(item) }
            guard tp_bytes_check(item) != 0 else {
                return Failure(reason: "the app's iterable yielded a \(String(cString: tp_type_name(item))), not bytes", traceback: nil)
            }
            guard response.append(bytesObject: item) else {
                return Failure(reason: response.violation ?? "invalid body chunk", traceback: nil)
            }
            if !batched && !response.reachedDeclaredLength { response.flush() }
        }
        return nil
    }

    /// Calls `result.close()` if it has one (PEP 3333 requires it, even after an error).
    private func close(_ result: PyObjectPointer) -> Failure? {
        // One lookup with an interned name; like hasattr(), a lookup that
        // raises means "no close".
        var found: PyObjectPointer?
        guard _PyObject_LookupAttr(result, runtime.closeName, &found) == 1, let close = found else {
            PyErr_Clear()
            return nil
        }
        defer { Py_DecRef(close) }
        guard let outcome = PyObject_CallNoArgs(close) else {
            return Failure(reason: "the iterable's close() raised", traceback: Python.takeException())
        }
        Py_DecRef(outcome)
        return nil
    }
}
