import TidepoolCore

/// The front's defences against bad or hostile clients live in its own HTTP
/// layer: `RequestParser` (TidepoolCore/HTTP) refuses, before any routing and
/// with our code, a head over `maxHeaderBytes` (431), a target over
/// `maxURIBytes` (414), a body over `maxRequestBodyBytes` (413), a malformed
/// head, bad chunk or ambiguous framing (400, `RequestFraming`), and a head or
/// body past `headerTimeout`/`bodyTimeout` (408); `ClientConnection` closes a
/// connection idle or not reading its reply for `clientTimeout`. Requests only
/// reach the pool once fully read, so a slow client never holds an instance slot.
extension HostRuntime {
    /// `X-Forwarded-For` for the app (see `ForwardedFor`).
    func forwardedFor(clientHeader: [UInt8]?, peer: String) -> String {
        ForwardedFor.value(
            clientHeader: clientHeader.map { String(decoding: $0, as: UTF8.self) },
            peer: peer, trusted: configuration.trustedProxies)
    }
}
