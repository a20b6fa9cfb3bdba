import TidepoolCore

/// The path part of a request-target, percent-decoded, as raw bytes (HTTP
/// paths need not be UTF-8). Used for routing decisions only: the app always
/// receives the target exactly as the client sent it.
enum URLPath {
    static func decodedPath(ofTarget target: ArraySlice<UInt8>) -> [UInt8] {
        let end = target.firstIndex { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") } ?? target.endIndex
        return PercentDecoding.decode(target[..<end])
    }
}
