import CEvent
import Glibc

/// `public/**` served by the front itself, at the URL path without `public/`
/// (Vercel's convention). Path traversal is impossible: NUL bytes and `..`
/// segments are refused before touching the file system, and the resolved
/// real path (symlinks followed) must lie inside the real public directory.
struct StaticFiles {
    /// Real path of the public directory, with a trailing slash.
    let rootPrefix: String

    init?(publicDirectory: String) {
        guard let real = realpath(publicDirectory, nil) else { return nil }
        defer { free(real) }
        rootPrefix = String(cString: real) + "/"
    }

    /// A file to serve: its real path, opened descriptor and size.
    struct File {
        let path: String
        let fd: Int32
        let size: Int
        let contentType: String
    }

    /// The regular file under the public directory for this decoded URL path,
    /// opened, or nil when there is none (the request then goes to the app).
    func open(decodedPath path: [UInt8]) -> File? {
        guard path.first == UInt8(ascii: "/"), !path.contains(0) else { return nil }
        let segments = path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true)
        guard !segments.isEmpty, !segments.contains(where: { $0.elementsEqual("..".utf8) }) else { return nil }
        let relative = String(decoding: path.dropFirst(), as: UTF8.self)
        guard relative.utf8.count == path.count - 1 else { return nil }  // not valid UTF-8: no such file here
        guard let real = realpath(rootPrefix + relative, nil) else { return nil }
        let resolved = String(cString: real)
        free(real)
        guard resolved.hasPrefix(rootPrefix) else { return nil }
        let fd = Glibc.open(resolved, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            Glibc.close(fd)
            return nil
        }
        return File(path: resolved, fd: fd, size: Int(info.st_size), contentType: MimeTypes.type(forFileName: resolved))
    }

    /// Replies with the file (HEAD: headers only, with the real Content-Length).
    /// The body is handed to evbuffer_add_file, which owns and closes the fd.
    static func serve(_ file: File, request: UnsafeMutablePointer<evhttp_request>, closeConnection: Bool) {
        let headers = evhttp_request_get_output_headers(request)
        evhttp_add_header(headers, "Content-Type", file.contentType)
        evhttp_add_header(headers, "Cache-Control", "public, max-age=0, must-revalidate")
        if closeConnection { evhttp_add_header(headers, "Connection", "close") }
        if evhttp_request_get_command(request) == EVHTTP_REQ_HEAD {
            Glibc.close(file.fd)
            evhttp_add_header(headers, "Content-Length", String(file.size))
            evhttp_send_reply(request, 200, "OK", nil)
            return
        }
        let body = evbuffer_new()
        defer { evbuffer_free(body) }
        if file.size > 0 {
            guard evbuffer_add_file(body, file.fd, 0, Int64(file.size)) == 0 else {
                evhttp_send_reply(request, 500, "Internal Server Error", nil)
                return
            }
        } else {
            Glibc.close(file.fd)
        }
        evhttp_send_reply(request, 200, "OK", body)
    }
}
