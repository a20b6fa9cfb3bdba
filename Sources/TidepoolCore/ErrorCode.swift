/// The errors a client can see, with Vercel's codes so users recognise them.
/// The code travels in the `x-tidepool-error` header and in the body.
public enum ErrorCode: String, Sendable, CaseIterable {
    case malformedRequest = "MALFORMED_REQUEST"
    case notFound = "NOT_FOUND"
    case payloadTooLarge = "FUNCTION_PAYLOAD_TOO_LARGE"
    case invocationFailed = "FUNCTION_INVOCATION_FAILED"
    case responsePayloadTooLarge = "FUNCTION_RESPONSE_PAYLOAD_TOO_LARGE"
    case noResponse = "NO_RESPONSE_FROM_FUNCTION"
    case throttled = "FUNCTION_THROTTLED"
    case invocationTimeout = "FUNCTION_INVOCATION_TIMEOUT"
    case urlTooLong = "URL_TOO_LONG"
    /// Vercel's code for a request head over the limit.
    case headerTooLarge = "REQUEST_HEADER_TOO_LARGE"
    /// Tidepool's own: the client took longer than `headerTimeout` to send the
    /// head, or `bodyTimeout` to send the body.
    case requestTimeout = "REQUEST_TIMEOUT"

    /// The HTTP status that carries this code.
    public var status: Int {
        switch self {
        case .malformedRequest: 400
        case .requestTimeout: 408
        case .urlTooLong: 414
        case .headerTooLarge: 431
        case .notFound: 404
        case .payloadTooLarge: 413
        case .invocationFailed, .responsePayloadTooLarge: 500
        case .noResponse: 502
        case .throttled: 503
        case .invocationTimeout: 504
        }
    }

    /// The response header that names the code.
    public static let headerName = "x-tidepool-error"

    /// A short plain-text body: the status, the code and what it means.
    public var body: String {
        let meaning: String = switch self {
        case .malformedRequest: "The request could not be parsed."
        case .notFound: "The requested resource was not found."
        case .payloadTooLarge: "The request body is larger than the function accepts."
        case .invocationFailed: "The function raised an error or returned an invalid response."
        case .responsePayloadTooLarge: "The function's response is larger than allowed."
        case .noResponse: "The function instance stopped before it answered."
        case .throttled: "Too many requests are waiting; try again shortly."
        case .invocationTimeout: "The function did not answer within its maximum duration."
        case .urlTooLong: "The request URL is longer than the server accepts."
        case .headerTooLarge: "The request headers are larger than the server accepts."
        case .requestTimeout: "The request was not received in time."
        }
        return "\(status): \(rawValue)\n\(meaning)\n"
    }
}
