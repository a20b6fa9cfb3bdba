import CEvent
import CTidepoolLinux
import Glibc
import TidepoolProject

/// Carries out the `Router`'s decision for one request: the decision itself
/// (vercel.json redirects, headers, statics, rewrites) is pure and lives in
/// TidepoolProject; here are only the replies.
extension HostRuntime {
    /// Routes a request that is not for `/_tidepool/`. `path` is the decoded URL path.
    func routeRequest(_ request: HTTPRequest, target: ArraySlice<UInt8>, path: [UInt8]) {
        let pathText = String(decoding: path, as: UTF8.self)
        guard pathText.utf8.count == path.count else {
            forward(request)  // not UTF-8: no rule or file can name it; the app decides
            return
        }
        let method = request.methodText
        let headers = router.readsRequestHeaders ? Self.inputHeaders(request) : []
        let routeRequest = RouteRequest(method: method, path: pathText, query: Self.rawQuery(of: target), headers: headers)
        let decision = router.route(routeRequest) { [staticFiles] urlPath in
            staticFiles?.entry(atURLPath: urlPath) ?? .missing
        }
        switch decision.action {
        case .redirect(let status, let location):
            request.addHeader("Location", location)
            markClosingIfDraining(request)
            request.sendReply(status: status)
        case .staticFile(let filePath):
            guard let file = staticFiles?.open(decodedPath: Array(filePath.utf8)) else {
                forward(request)  // removed since the lookup: the app decides
                return
            }
            let conditions = StaticReply.Conditions(
                ifNoneMatch: request.headerText("if-none-match"), ifModifiedSince: request.headerText("if-modified-since"),
                range: request.headerText("range"), ifRange: request.headerText("if-range"))
            StaticReplySender.send(
                file, request: request, method: method, conditions: conditions, routeHeaders: decision.headers,
                closeConnection: phase != .serving)
        case .app(let rewritten):
            // The app's own headers replace these (ResponseRelay.applyHeaders removes same-named ones).
            for header in decision.headers where !header.value.utf8.contains(where: { $0 == 0 || $0 == 10 || $0 == 13 }) {
                request.addHeader(header.key, header.value)
            }
            forward(request, rewrittenTarget: rewritten.map { Array($0.utf8) })
        case .externalRewrite(let destination):
            logger.warning("rewrite of \(pathText) to another origin (\(destination)) is not supported; answering 502")
            sendError(request, .noResponse)
        }
    }

    /// The client's headers as (name, value) text pairs.
    static func inputHeaders(_ request: HTTPRequest) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = []
        request.forEachHeader { name, value in
            headers.append((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
        }
        return headers
    }

    /// The query string of a request-target (between `?` and `#`), nil when there is none.
    static func rawQuery(of target: ArraySlice<UInt8>) -> String? {
        guard let mark = target.firstIndex(of: UInt8(ascii: "?")) else { return nil }
        let end = target[mark...].firstIndex(of: UInt8(ascii: "#")) ?? target.endIndex
        return String(decoding: target[(mark + 1)..<end], as: UTF8.self)
    }
}
