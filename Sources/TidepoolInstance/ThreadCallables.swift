import CPython

/// One handler thread's `start_response` and `write`, reused from request to
/// request: creating a capsule and two bound methods per request cost a few
/// thousand instructions. The capsule's pointer is switched to each new
/// request's `Response`; its context points at the cached `write`, which
/// `start_response` returns.
///
/// They are only reused while nobody else holds them: if the app kept
/// `start_response`, `write` or the capsule past the request, the set is
/// dropped (its capsule keeps pointing at the finished response, so a late
/// call raises as PEP 3333 wants) and a fresh one is made for the next request.
final class ThreadCallables {
    // Invariant: only used by its handler thread, with the GIL held.
    private let callables: NativeCallables
    private var capsule: PyObjectPointer?
    private var startResponse: PyObjectPointer?
    private var write: PyObjectPointer?

    init(callables: NativeCallables) {
        self.callables = callables
    }

    /// `start_response` bound to `response` (new reference), or nil with a
    /// Python exception set.
    func startResponse(for response: Response) -> PyObjectPointer? {
        if let capsule, let startResponse {
            callables.rebind(capsule, to: response)
            Py_IncRef(startResponse)
            return startResponse
        }
        guard let capsule = callables.capsule(for: response) else { return nil }
        guard let startResponse = callables.startResponse(boundTo: capsule) else {
            Py_DecRef(capsule)
            return nil
        }
        if let write = callables.write(boundTo: capsule) {
            PyCapsule_SetContext(capsule, UnsafeMutableRawPointer(write))
            self.write = write
        } else {
            PyErr_Clear()  // start_response makes one per call instead
        }
        self.capsule = capsule
        self.startResponse = startResponse
        Py_IncRef(startResponse)
        return startResponse
    }

    /// The request is over: keep the set if only this cache holds it.
    func requestEnded() {
        guard let capsule, let startResponse else { return }
        let ownersOfCapsule = 1 + 1 + (write == nil ? 0 : 1)
        if startResponse.pointee.ob_refcnt == 1, write.map({ $0.pointee.ob_refcnt == 1 }) ?? true,
           capsule.pointee.ob_refcnt == ownersOfCapsule {
            return
        }
        PyCapsule_SetContext(capsule, nil)
        Py_DecRef(write)
        Py_DecRef(startResponse)
        Py_DecRef(capsule)
        self.write = nil
        self.startResponse = nil
        self.capsule = nil
    }
}
