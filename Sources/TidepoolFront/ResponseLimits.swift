import TidepoolCore

/// `maxResponseBodyBytes`: a response whose declared Content-Length is over the
/// limit gets 500 FUNCTION_RESPONSE_PAYLOAD_TOO_LARGE instead of its head, and
/// the instance is asked to stop producing it.
///
/// Like Vercel's 4.5 MB response limit, this applies to buffered responses
/// (the app declared a length): a streamed response (no Content-Length, sent
/// chunked) is not limited, since its head may already be on the wire.
extension HostRuntime {
    /// Returns true when the response was refused (the caller drops the head).
    func rejectOversizedResponse(_ pending: PendingRequest, _ head: ResponseHead) -> Bool {
        guard let declared = Self.declaredContentLength(head), declared > configuration.maxResponseBodyBytes else {
            return false
        }
        logger.warning("request \(pending.id): response of \(declared) bytes is over maxResponseBodyBytes (\(configuration.maxResponseBodyBytes))")
        if let instanceID = pending.instance { instances[instanceID]?.channel.send(.cancel(id: pending.id)) }
        replyError(pending, .responsePayloadTooLarge)
        return true
    }

    static func declaredContentLength(_ head: ResponseHead) -> Int? {
        // Byte comparison: the same answer as lowercasing each name into a String, without the String.
        var declared: Int?
        var found = false
        head.headers.forEach { name, value in
            guard !found, ASCIICase.equals(name, "content-length") else { return }
            found = true
            declared = decimal(value)
        }
        return declared
    }
}
