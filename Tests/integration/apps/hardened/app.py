"""Fixture for the hardening tests (issue 7): a plain WSGI app with routes
that crash, misbehave, report what they received, and count requests.

Every request is appended to requests.log (one line: method, path), so tests
can prove that a smuggled request never reached the app.
"""

import ctypes
import fcntl
import json
import os
import resource
import time

LOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "requests.log")


def record(environ):
    line = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}\n"
    with open(LOG, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(line)


def reply(start_response, body, status="200 OK", content_type="text/plain"):
    if isinstance(body, (dict, list)):
        body, content_type = json.dumps(body).encode(), "application/json"
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]


def broken(path, start_response):
    """Each returns an invalid WSGI response: the server must answer 500."""
    if path == "/broken/not-iterable":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return 42
    if path == "/broken/str-chunks":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return ["text, not bytes"]
    if path == "/broken/no-start-response":
        return [b"never started"]
    if path == "/broken/start-twice":
        start_response("200 OK", [("Content-Type", "text/plain")])
        start_response("201 Created", [("Content-Type", "text/plain")])
        return [b"twice"]
    if path == "/broken/header-newline":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Injected", "a\r\nSet-Cookie: evil=1")])
        return [b"newline"]
    if path == "/broken/bad-status":
        start_response("OK then", [("Content-Type", "text/plain")])
        return [b"status"]
    if path == "/broken/too-long":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
        return [b"0123456789"]
    return None


def app(environ, start_response):
    path = environ["PATH_INFO"]
    query = environ.get("QUERY_STRING", "")
    record(environ)
    if path.startswith("/broken/"):
        result = broken(path, start_response)
        if result is not None:
            return result
    if path == "/pid":
        return reply(start_response, str(os.getpid()).encode())
    if path == "/sleep":
        time.sleep(float(query or "1"))
        return reply(start_response, str(os.getpid()).encode())
    if path == "/exit":
        os._exit(1)
    if path == "/segfault":
        ctypes.string_at(0)
    if path == "/raise":
        raise RuntimeError("raised on purpose")
    if path == "/headers":
        headers = {k: v for k, v in environ.items() if k.startswith("HTTP_")}
        headers["REMOTE_ADDR"] = environ.get("REMOTE_ADDR")
        return reply(start_response, headers)
    if path == "/body":
        data = environ["wsgi.input"].read()
        return reply(start_response, {"length": len(data)})
    if path == "/big":
        size = int(query)
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))])
        return [b"x" * size]
    if path == "/stream":
        size = int(query)
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        return (b"y" * 65536 for _ in range(size // 65536))
    if path == "/whoami":
        return reply(start_response, {
            "uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(),
            "nofile": resource.getrlimit(resource.RLIMIT_NOFILE),
            "core": resource.getrlimit(resource.RLIMIT_CORE),
        })
    return reply(start_response, f"ok {path}".encode())
