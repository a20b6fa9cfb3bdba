"""WSGI test apps for instance_driver.py: one router, one route per case (valid and broken)."""
import hashlib, io, json, os, random, sys, threading, time
from wsgiref.validate import validator

closed = {"count": 0}

def env_app(environ, start_response):
    out = {}
    for k, v in environ.items():
        if isinstance(v, str):
            out[k] = v.encode("latin-1").hex() if k == "PATH_INFO" else v
        elif isinstance(v, (bool, int, tuple)):
            out[k] = v
        else:
            out[k] = type(v).__name__
    out["_errors_is_stderr"] = environ["wsgi.errors"] is sys.stderr
    body = json.dumps(out).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]

def echo_app(environ, start_response):
    inp = environ["wsgi.input"]
    n = int(environ.get("CONTENT_LENGTH") or 0)
    first = inp.readline() if n else b""
    rest = inp.read(n - len(first)) if n else b""
    data = first + rest
    lines = len(io.BytesIO(data).readlines())
    body = json.dumps({"len": len(data), "sha": hashlib.sha256(data).hexdigest(), "lines": lines,
                       "method": environ["REQUEST_METHOD"], "query": environ["QUERY_STRING"],
                       "path": environ["PATH_INFO"]}).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    start_response("200 OK", headers)
    return [body] if environ["REQUEST_METHOD"] != "HEAD" else []

validated = validator(echo_app)

def stream_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    def gen():
        for i in range(3):
            yield b"chunk %d\n" % i
            time.sleep(0.15)
    return gen()

def sleep_app(environ, start_response):
    time.sleep(0.2)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [threading.current_thread().name.encode()]

def big_app(environ, start_response):
    data = bytes(range(256)) * (3 * 4096 + 7)   # ~3 MiB in one chunk
    start_response("200 OK", [("Content-Length", str(len(data)))])
    return iter([data])

def write_app(environ, start_response):
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"hello ")
    return [b"world"]

class Closing:
    def __init__(self, fail=False): self.fail = fail
    def __iter__(self):
        yield b"a"
        if self.fail:
            raise RuntimeError("boom inside the iterable")
        yield b"b"
    def close(self): closed["count"] += 1

def close_app(environ, start_response):
    start_response("200 OK", [])
    return Closing(fail="fail" in environ["QUERY_STRING"])

def closed_count(environ, start_response):
    start_response("200 OK", [])
    return [str(closed["count"]).encode()]

def raises(environ, start_response):
    raise ValueError("the app is broken on purpose")

def non_iterable(environ, start_response):
    start_response("200 OK", [])
    return 42

def yields_str(environ, start_response):
    start_response("200 OK", [])
    return ["not bytes"]

def no_start_response(environ, start_response):
    return [b"x"]

def bad_status(environ, start_response):
    start_response("OK", [])
    return [b"x"]

def crlf_header(environ, start_response):
    start_response("200 OK", [("X-Evil", "a\r\nSet-Cookie: pwned=1")])
    return [b"x"]

def non_latin1_header(environ, start_response):
    start_response("200 OK", [("X-Name", "caf\u00e9 \u2603")])
    return [b"x"]

def twice(environ, start_response):
    start_response("200 OK", [])
    try:
        start_response("201 Created", [])
    except AssertionError:
        pass   # swallowing it must not make the response valid
    return [b"x"]

def too_long(environ, start_response):
    start_response("200 OK", [("Content-Length", "3")])
    return [b"abcdef"]

def fails_after_head(environ, start_response):
    start_response("200 OK", [])
    def gen():
        yield b"first"
        time.sleep(0.05)
        raise RuntimeError("failed mid-stream")
    return gen()

def exc_info_before_head(environ, start_response):
    start_response("200 OK", [])
    try:
        raise KeyError("oops")
    except KeyError:
        start_response("503 Service Unavailable", [("Content-Type", "text/plain")], sys.exc_info())
        return [b"handled by the app"]

def exc_info_after_head(environ, start_response):
    write = start_response("200 OK", [])
    write(b"partial")
    try:
        raise KeyError("late")
    except KeyError:
        start_response("500 Oops", [], sys.exc_info())   # must re-raise
    return [b"never"]

def slow_stream(environ, start_response):
    start_response("200 OK", [])
    def gen():
        for i in range(50):
            yield b"tick\n"
            time.sleep(0.05)
    return gen()

def lazy_app(environ, start_response):
    # PEP 3333 allows start_response to be called on the first iteration.
    def gen():
        start_response("202 Accepted", [("Content-Type", "text/plain")])
        yield b""
        yield b"lazy"
    return gen()

def rand_app(environ, start_response):
    start_response("200 OK", [])
    return [repr(random.random()).encode()]

ROUTES = {
    "/env": env_app, "/echo": echo_app, "/validated": validated, "/stream": stream_app,
    "/sleep": sleep_app, "/big": big_app, "/write": write_app, "/close": close_app,
    "/closed": closed_count, "/raises": raises, "/non-iterable": non_iterable,
    "/yields-str": yields_str, "/no-start-response": no_start_response, "/bad-status": bad_status,
    "/crlf-header": crlf_header, "/non-latin1-header": non_latin1_header, "/twice": twice,
    "/too-long": too_long, "/fails-after-head": fails_after_head,
    "/exc-info-before-head": exc_info_before_head, "/exc-info-after-head": exc_info_after_head,
    "/slow": slow_stream, "/rand": rand_app, "/lazy": lazy_app,
}

def router(environ, start_response):
    path = environ["PATH_INFO"]
    for prefix, app in ROUTES.items():
        if path == prefix or path.startswith(prefix + "/"):
            return app(environ, start_response)
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"no route " + path.encode("latin-1")]
