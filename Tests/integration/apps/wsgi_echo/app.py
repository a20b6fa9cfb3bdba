"""WSGI conformance fixture: a plain WSGI app (no framework) wrapped in
`wsgiref.validate.validator`, which raises on any PEP 3333 violation by the
server (environ, wsgi.input, start_response, iteration). A raise becomes a
500, so every test that expects 200 also proves the validator was satisfied.

Routes under /raw/ bypass the validator: they misbehave on purpose.
"""

import hashlib
import json
import os
import sys
import threading
import time
import warnings
from wsgiref.validate import WSGIWarning, validator

warnings.simplefilter("error", WSGIWarning)  # validator warnings fail the request too

REQUIRED = [
    "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME", "SERVER_PORT",
    "SERVER_PROTOCOL", "wsgi.version", "wsgi.url_scheme", "wsgi.input", "wsgi.errors",
    "wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once",
]
CLOSE_LOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "closed.log")
_close_lock = threading.Lock()


def read_body(environ):
    """Read wsgi.input the way the X-Read-Mode header asks; return (body, pieces)."""
    stream = environ["wsgi.input"]
    mode = environ.get("HTTP_X_READ_MODE", "read")
    length = environ.get("CONTENT_LENGTH", "")
    remaining = int(length) if length else None
    if mode == "read":
        size = int(environ.get("HTTP_X_READ_SIZE", "65536"))
        pieces = []
        while remaining is None or remaining > 0:
            n = size if remaining is None else min(size, remaining)
            piece = stream.read(n)
            assert isinstance(piece, bytes), f"read() returned {type(piece)}"
            assert len(piece) <= n, f"read({n}) returned {len(piece)} bytes"
            if not piece:
                break
            pieces.append(piece)
            if remaining is not None:
                remaining -= len(piece)
        return b"".join(pieces), pieces
    if mode == "readline":
        pieces = []
        while True:
            line = stream.readline()
            assert isinstance(line, bytes)
            if not line:
                break
            pieces.append(line)
        return b"".join(pieces), pieces
    if mode == "readline-hint":
        pieces = []
        while True:
            line = stream.readline(5)
            assert isinstance(line, bytes) and len(line) <= 5, f"readline(5) returned {line!r}"
            if not line:
                break
            pieces.append(line)
        return b"".join(pieces), pieces
    if mode == "readlines":
        pieces = stream.readlines()
        assert isinstance(pieces, list)
        return b"".join(pieces), pieces
    if mode == "iter":
        pieces = [line for line in stream]
        return b"".join(pieces), pieces
    raise ValueError(f"unknown X-Read-Mode {mode!r}")


def echo(environ, start_response):
    missing = [key for key in REQUIRED if key not in environ]
    body, pieces = read_body(environ)
    # Past CONTENT_LENGTH (or the end of a chunked body) the server must simulate EOF.
    eof_after = environ["wsgi.input"].read(1) == b""
    headers = {k: v for k, v in environ.items() if k.startswith("HTTP_")}
    environ["wsgi.errors"].write(f"echo {environ['REQUEST_METHOD']} {environ['PATH_INFO']}\n")
    environ["wsgi.errors"].flush()
    answer = {
        "method": environ["REQUEST_METHOD"],
        "script_name": environ["SCRIPT_NAME"],
        "path_info": environ["PATH_INFO"],
        "path_info_utf8": environ["PATH_INFO"].encode("latin-1").decode("utf-8", "replace"),
        "query_string": environ.get("QUERY_STRING"),
        "content_type": environ.get("CONTENT_TYPE"),
        "content_length": environ.get("CONTENT_LENGTH"),
        "server_name": environ.get("SERVER_NAME"),
        "server_port": environ.get("SERVER_PORT"),
        "server_protocol": environ.get("SERVER_PROTOCOL"),
        "remote_addr": environ.get("REMOTE_ADDR"),
        "headers": headers,
        "wsgi": {
            "version": list(environ["wsgi.version"]),
            "url_scheme": environ["wsgi.url_scheme"],
            "multithread": environ["wsgi.multithread"],
            "multiprocess": environ["wsgi.multiprocess"],
            "run_once": environ["wsgi.run_once"],
        },
        "missing": missing,
        "environ_types_ok": all(isinstance(k, str) for k in environ)
        and all(isinstance(v, str) for k, v in environ.items() if k.isupper()),
        "body_length": len(body),
        "body_sha256": hashlib.sha256(body).hexdigest(),
        "pieces": [len(p) for p in pieces],
        "eof_after_body": eof_after,
        "pid": os.getpid(),
    }
    data = json.dumps(answer).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


class Closing:
    """An iterable whose close() is recorded in closed.log (checked by the tests)."""

    def __init__(self, token, chunks):
        self.token, self.chunks = token, chunks

    def __iter__(self):
        return iter(self.chunks)

    def close(self):
        with _close_lock, open(CLOSE_LOG, "a") as f:
            f.write(self.token + "\n")


def validated(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/write":
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written-")
        return [b"returned"]
    if path == "/exc-info":
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise RuntimeError("replaced before the body")
        except RuntimeError:
            start_response("503 Service Unavailable", [("Content-Type", "text/plain"), ("X-Replaced", "yes")],
                           sys.exc_info())
        return [b"replaced"]
    if path == "/close":
        token = environ["QUERY_STRING"]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Closing(token, [b"one-", b"two-", b"three"])
    if path == "/empty":
        start_response("204 No Content", [])
        return []
    if path == "/set-cookies":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Set-Cookie", "a=1; Path=/"),
                                  ("Set-Cookie", "b=2; Path=/"), ("X-Custom", "custom value")])
        return [b"cookies"]
    if path == "/own-date":
        start_response("200 OK", [("Content-Type", "text/plain"), ("Date", "Tue, 01 Jan 2030 00:00:00 GMT")])
        return [b"dated"]
    if path == "/big":
        size = int(environ["QUERY_STRING"] or "2097152")
        block = bytes(range(256)) * 256  # 64 KiB
        chunks = [block] * (size // len(block)) + [block[: size % len(block)]]
        start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))])
        return chunks
    if path == "/generator":
        def gen():
            for i in range(3):
                yield f"part{i};".encode()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return gen()
    if path == "/sleep":
        time.sleep(float(environ["QUERY_STRING"] or "0.2"))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"slept"]
    return echo(environ, start_response)


_validated = validator(validated)


def raw(environ, start_response):
    """Deliberately broken apps: the server must answer 500 FUNCTION_INVOCATION_FAILED."""
    path = environ["PATH_INFO"]
    if path == "/raw/raise":
        raise ValueError("secret-marker-do-not-leak")
    if path == "/raw/raise-in-iter":
        def gen():
            raise KeyError("secret-marker-do-not-leak")
            yield b""
        start_response("200 OK", [("Content-Type", "text/plain")])
        return gen()
    if path == "/raw/str-body":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return ["not bytes"]
    if path == "/raw/no-start-response":
        return [b"body without start_response"]
    if path == "/raw/bad-status":
        start_response("not a status", [("Content-Type", "text/plain")])
        return [b"x"]
    if path == "/raw/not-iterable":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return 42
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"no such raw route"]


def app(environ, start_response):
    if environ["PATH_INFO"].startswith("/raw/"):
        return raw(environ, start_response)
    return _validated(environ, start_response)
