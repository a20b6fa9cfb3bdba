import TidepoolCore

/// Why a template or instance could not start. It becomes the `failed` frame
/// the host shows to the user, so `message` says what to do, and carries the
/// Python traceback when Python raised.
struct StartError: Error {
    /// The phase that failed: `python-init`, `import`, `fork`…
    var phase: String
    var message: String

    var failure: StartFailure { StartFailure(phase: phase, message: message) }
}
