import CEvent
import CTidepoolLinux
import Glibc
import TidepoolProject

/// Carries out the `Router`'s decision for one request: the decision itself
/// (vercel.json redirects, headers, statics, rewrites) is pure and lives in
/// TidepoolProject; here are only the evhttp calls.
extension HostRuntime {
    /// Routes a request that is not for `/_tidepool/`. `path` is the decoded URL path.
    func routeRequest(_ request: UnsafeMutablePointer<evhttp_request>, target: [UInt8], path: [UInt8]) {
        let pathText = String(decoding: path, as: UTF8.self)
        guard pathText.utf8.count == path.count else {
            forward(request)  // not UTF-8: no rule or file can name it; the app decides
            return
        }
        let method = Self.methodName(evhttp_request_get_command(request))
        let headers = router.readsRequestHeaders ? Self.inputHeaders(request) : []
        let routeRequest = RouteRequest(method: method, path: pathText, query: Self.rawQuery(of: target), headers: headers)
        let decision = router.route(routeRequest) { [staticFiles] urlPath in
            staticFiles?.entry(atURLPath: urlPath) ?? .missing
        }
        switch decision.action {
        case .redirect(let status, let location):
            let output = evhttp_request_get_output_headers(request)
            evhttp_add_header(output, "Location", location)
            markClosingIfDraining(request)
            evhttp_send_reply(request, Int32(status), nil, nil)
        case .staticFile(let filePath):
            guard let file = staticFiles?.open(decodedPath: Array(filePath.utf8)) else {
                forward(request)  // removed since the lookup: the app decides
                return
            }
            let input = evhttp_request_get_input_headers(request)
            let find = { (name: String) in evhttp_find_header(input, name).map { String(cString: $0) } }
            let conditions = StaticReply.Conditions(
                ifNoneMatch: find("If-None-Match"), ifModifiedSince: find("If-Modified-Since"),
                range: find("Range"), ifRange: find("If-Range"))
            StaticReplySender.send(
                file, request: request, method: method, conditions: conditions, routeHeaders: decision.headers,
                closeConnection: phase != .serving)
        case .app(let rewritten):
            // The app's own headers replace these (ResponseRelay.applyHeaders removes same-named ones).
            let output = evhttp_request_get_output_headers(request)
            for header in decision.headers where !header.value.utf8.contains(where: { $0 == 0 || $0 == 10 || $0 == 13 }) {
                evhttp_add_header(output, header.key, header.value)
            }
            forward(request, rewrittenTarget: rewritten.map { Array($0.utf8) })
        case .externalRewrite(let destination):
            logger.warning("rewrite of \(pathText) to another origin (\(destination)) is not supported; answering 502")
            sendError(request, .noResponse)
        }
    }

    /// The client's headers as (name, value) text pairs.
    static func inputHeaders(_ request: UnsafeMutablePointer<evhttp_request>) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = []
        guard let input = evhttp_request_get_input_headers(request) else { return headers }
        var entry = tp_evkeyvalq_first(input)
        while let current = entry {
            entry = tp_evkeyval_next(current)
            guard let key = current.pointee.key, let value = current.pointee.value else { continue }
            headers.append((String(cString: key), String(cString: value)))
        }
        return headers
    }

    /// The query string of a request-target (between `?` and `#`), nil when there is none.
    static func rawQuery(of target: [UInt8]) -> String? {
        guard let mark = target.firstIndex(of: UInt8(ascii: "?")) else { return nil }
        let end = target[mark...].firstIndex(of: UInt8(ascii: "#")) ?? target.endIndex
        return String(decoding: target[(mark + 1)..<end], as: UTF8.self)
    }
}
