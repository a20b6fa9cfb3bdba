import CEvent
import Glibc
import TidepoolProject

/// Writes a static file's reply as `StaticReply.decide` chose it: validators
/// and the default Cache-Control, then vercel.json `headers` (which replace
/// same-named defaults), then 200 / 206 / 304 / 416.
enum StaticReplySender {
    static let defaultCacheControl = "public, max-age=0, must-revalidate"

    /// Replies and closes (or hands the reply's evbuffer) the file descriptor: its one terminal call for `request`.
    static func send(
        _ file: StaticFiles.File, request: HTTPRequest, method: String,
        conditions: StaticReply.Conditions, routeHeaders: [HeaderRule.Header], closeConnection: Bool
    ) {
        let etag = StaticReply.etag(size: file.size, modifiedNanos: file.modifiedNanos, inode: file.inode)
        let reply = StaticReply.decide(
            method: method, size: file.size, etag: etag, modifiedSeconds: file.modifiedSeconds, conditions: conditions)
        var headers: [(String, String)] = [
            ("Cache-Control", defaultCacheControl),
            ("ETag", etag),
            ("Last-Modified", HTTPDate.format(file.modifiedSeconds)),
        ]
        if reply != .notModified {
            headers.append(("Content-Type", file.contentType))
            headers.append(("Accept-Ranges", "bytes"))
        }
        for header in routeHeaders {
            headers.removeAll { $0.0.lowercased() == header.key.lowercased() }
            headers.append((header.key, header.value))
        }
        if closeConnection { headers.append(("Connection", "close")) }
        for (name, value) in headers where !value.utf8.contains(where: { $0 == 0 || $0 == 10 || $0 == 13 }) {
            request.addHeader(name, value)
        }

        switch reply {
        case .notModified:
            Glibc.close(file.fd)
            request.sendReply(status: 304, reason: "Not Modified")
        case .unsatisfiable:
            Glibc.close(file.fd)
            request.addHeader("Content-Range", "bytes */\(file.size)")
            request.sendReply(status: 416, reason: "Range Not Satisfiable")
        case .full:
            sendBody(file, request: request, status: 200, reason: "OK", offset: 0, length: file.size, head: method == "HEAD")
        case .partial(let first, let last):
            request.addHeader("Content-Range", "bytes \(first)-\(last)/\(file.size)")
            sendBody(file, request: request, status: 206, reason: "Partial Content", offset: first, length: last - first + 1, head: false)
        }
    }

    /// HEAD: headers only, with the real Content-Length. Otherwise the body is
    /// handed to evbuffer_add_file, which owns and closes the fd.
    private static func sendBody(
        _ file: StaticFiles.File, request: HTTPRequest, status: Int, reason: String,
        offset: Int, length: Int, head: Bool
    ) {
        if head {
            Glibc.close(file.fd)
            request.addHeader("Content-Length", String(length))
            request.sendReply(status: status, reason: reason)
            return
        }
        let body = evbuffer_new()
        defer { evbuffer_free(body) }
        if length > 0 {
            guard evbuffer_add_file(body, file.fd, Int64(offset), Int64(length)) == 0 else {
                request.sendReply(status: 500, reason: "Internal Server Error")
                return
            }
        } else {
            Glibc.close(file.fd)
        }
        request.sendReply(status: status, reason: reason, body: body)
    }
}
