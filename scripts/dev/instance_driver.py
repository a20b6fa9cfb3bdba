#!/usr/bin/python3
"""Dev driver for the Tidepool instance process, without the host.

Speaks the host <-> instance wire protocol (Sources/TidepoolCore/Wire) in pure
Python (stdlib only), starts `tidepool _instance ...` and `tidepool _template ...`
with one end of a socketpair as fd 3, sends requests and checks the responses:

  * the native WSGI bridge (environ keys, PATH_INFO latin-1 round trip,
    repeated headers, wsgi.input), an app wrapped in wsgiref.validate, a Flask app
  * streaming (first chunk before the last is produced), write(), close()
  * 8 concurrent time.sleep(0.2) requests on 8 handler threads
  * every broken-app case (raise, non-iterable, str chunks, no start_response,
    bad status, CR/LF and non-latin-1 headers, start_response twice, too many
    bytes for Content-Length, failure after the head was sent, exc_info)
  * 1 MB POST body, multi-MiB response split into <= 1 MiB frames
  * cancel, drain, stats, channel close -> instance exits
  * template: ready, exactly 1 thread, forkInstance with SCM_RIGHTS, forked
    children serve, re-seeded random, reaping, control close -> template exits
  * start failures (ModuleNotFoundError traceback in `failed`, exit 1)

Usage (build first: swift build --scratch-path .build-instance):
  /usr/bin/python3 scripts/dev/instance_driver.py [--tidepool PATH] [--venv DIR] [-k NAME]

--venv must be a venv made by /usr/bin/python3 with flask installed
(default /tmp/inst-venv:  /usr/bin/python3 -m venv /tmp/inst-venv &&
/tmp/inst-venv/bin/pip install flask). Exit status 0 when every check passed.
"""

import argparse
import hashlib
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

# ---------------------------------------------------------------- wire codec

K_READY, K_REQ_HEAD, K_REQ_BODY, K_REQ_END, K_RESP_HEAD, K_RESP_BODY, K_RESP_END = 1, 2, 3, 4, 5, 6, 7
K_CANCEL, K_LOG, K_STATS, K_DRAIN, K_FORK, K_FORKED, K_FAILED = 8, 9, 10, 11, 12, 13, 14
KIND_NAMES = {1: "ready", 2: "requestHead", 3: "requestBody", 4: "requestEnd", 5: "responseHead",
              6: "responseBody", 7: "responseEnd", 8: "cancel", 9: "log", 10: "stats", 11: "drain",
              12: "forkInstance", 13: "forked", 14: "failed"}
START_KINDS = {0: "fork", 1: "spawn", 2: "template"}


def frame(kind, ident, payload=b""):
    return struct.pack(">IBI", 5 + len(payload), kind, ident) + payload


def p_bytes(b):
    return struct.pack(">I", len(b)) + b


def p_str(s):
    return p_bytes(s.encode("utf-8"))


def p_headers(headers):
    out = struct.pack(">I", len(headers))
    for name, value in headers:
        out += p_bytes(name if isinstance(name, bytes) else name.encode("latin-1"))
        out += p_bytes(value if isinstance(value, bytes) else value.encode("latin-1"))
    return out


def request_head(ident, method, target, headers=(), timeout_ms=0):
    payload = (p_str(method) + p_bytes(target if isinstance(target, bytes) else target.encode())
               + bytes([1, 1]) + p_headers(list(headers)) + p_str("127.0.0.1") + struct.pack(">H", 54321)
               + p_str("localhost") + struct.pack(">H", 3000) + p_str("http") + struct.pack(">I", timeout_ms))
    return frame(K_REQ_HEAD, ident, payload)


class Cursor:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError("truncated")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self): return self.take(1)[0]
    def u16(self): return struct.unpack(">H", self.take(2))[0]
    def u32(self): return struct.unpack(">I", self.take(4))[0]
    def u64(self): return struct.unpack(">Q", self.take(8))[0]
    def bytes(self): return self.take(self.u32())
    def str(self): return self.bytes().decode("utf-8")
    def rest(self): return self.take(len(self.data) - self.pos)

    def headers(self):
        return [(self.bytes().decode("latin-1"), self.bytes().decode("latin-1")) for _ in range(self.u32())]


def decode_payload(kind, payload):
    c = Cursor(payload)
    if kind == K_READY:
        pid, sk, threads = c.u32(), c.u8(), c.u32()
        phases = [(c.str(), c.u64()) for _ in range(c.u32())]
        out = dict(pid=pid, kind=START_KINDS[sk], threads=threads, phases=phases)
    elif kind == K_RESP_HEAD:
        out = dict(status=c.u16(), reason=c.str(), headers=c.headers())
    elif kind == K_RESP_BODY:
        out = dict(body=c.rest())
    elif kind == K_RESP_END:
        cpu, wall, oc = c.u64(), c.u64(), c.u8()
        out = dict(cpu=cpu, wall=wall, outcome="complete" if oc == 0 else "aborted",
                   reason=c.str() if oc == 1 else None)
    elif kind == K_LOG:
        out = dict(level=c.u8(), message=c.str())
    elif kind == K_STATS:
        out = dict(rss=c.u64(), cpu=c.u64(), in_flight=c.u32())
    elif kind == K_FORKED:
        out = dict(pid=c.u32())
    elif kind == K_FAILED:
        out = dict(phase=c.str(), message=c.str())
    else:
        raise ValueError(f"unexpected frame kind {kind} from the instance")
    if c.pos != len(payload):
        raise ValueError(f"{KIND_NAMES[kind]} has trailing bytes")
    return out


# ---------------------------------------------------------------- processes

class Response:
    def __init__(self):
        self.head = None
        self.chunks = []          # (time, bytes) per responseBody frame
        self.end = None
        self.done = threading.Event()
        self.sent_at = None
        self.recv_counts = []     # how many frames arrived in the same recv() as each frame

    @property
    def status(self): return self.head["status"] if self.head else None

    @property
    def body(self): return b"".join(b for _, b in self.chunks)

    def header(self, name):
        for k, v in (self.head or {}).get("headers", []):
            if k.lower() == name.lower():
                return v
        return None


class Channel:
    """The host's end of one socketpair, with a reader thread that sorts frames."""

    def __init__(self, sock, name):
        self.sock, self.name = sock, name
        self.lock = threading.Lock()
        self.responses = {}
        self.control = []         # (time, kind, payload) for non-request frames
        self.cond = threading.Condition()
        self.eof = threading.Event()
        self.next_id = 1
        self.reads = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        buf = b""
        while True:
            try:
                data = self.sock.recv(1 << 20)
            except OSError:
                data = b""
            if not data:
                self.eof.set()
                with self.cond:
                    self.cond.notify_all()
                return
            self.reads += 1
            now = time.monotonic()
            buf += data
            batch = []
            while len(buf) >= 4:
                (length,) = struct.unpack(">I", buf[:4])
                if length < 5 or length > 16 << 20:
                    raise SystemExit(f"{self.name}: bad frame length {length}")
                if len(buf) < 4 + length:
                    break
                kind, ident = struct.unpack(">BI", buf[4:9])
                batch.append((kind, ident, decode_payload(kind, buf[9:4 + length])))
                buf = buf[4 + length:]
            for kind, ident, payload in batch:
                self._dispatch(now, kind, ident, payload, len(batch))

    def _dispatch(self, now, kind, ident, payload, batch_size):
        if kind in (K_RESP_HEAD, K_RESP_BODY, K_RESP_END):
            r = self.responses.get(ident)
            if r is None:
                print(f"  !! {self.name}: {KIND_NAMES[kind]} for unknown request {ident}")
                return
            r.recv_counts.append(batch_size)
            if kind == K_RESP_HEAD:
                assert r.head is None, "two heads"
                r.head = payload
            elif kind == K_RESP_BODY:
                assert r.head is not None, "body before head"
                r.chunks.append((now, payload["body"]))
            else:
                r.end = payload
                r.end_at = now
                r.done.set()
        else:
            with self.cond:
                self.control.append((now, kind, payload))
                self.cond.notify_all()

    def close(self):
        """Closes the host's end like a dying host would (shutdown first: the
        reader thread blocked in recv() would otherwise keep the socket open)."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def send(self, data):
        with self.lock:
            self.sock.sendall(data)

    def wait_control(self, kind, timeout=10.0, after=0):
        """Waits for the first frame of `kind` at index >= after; returns (time, payload, index)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, (t, k, p) in enumerate(self.control[after:], after):
                    if k == kind:
                        return t, p, i
                if k_failed := [p for _, k, p in self.control[after:] if k == K_FAILED and kind != K_FAILED]:
                    raise AssertionError(f"{self.name}: failed: {k_failed[0]['phase']}: {k_failed[0]['message']}")
                left = deadline - time.monotonic()
                if left <= 0 or (self.eof.is_set() and not any(k == kind for _, k, _ in self.control[after:])):
                    raise AssertionError(f"{self.name}: no {KIND_NAMES[kind]} frame (eof={self.eof.is_set()})")
                self.cond.wait(min(left, 0.1))

    def logs(self):
        with self.cond:
            return [p["message"] for _, k, p in self.control if k == K_LOG]

    def start(self, method, target, headers=(), body=b"", chunk=64 << 10, end=True):
        with self.lock:
            ident = self.next_id
            self.next_id += 1
        r = Response()
        r.id = ident
        self.responses[ident] = r
        data = request_head(ident, method, target, headers)
        for i in range(0, len(body), chunk):
            data += frame(K_REQ_BODY, ident, body[i:i + chunk])
        if end:
            data += frame(K_REQ_END, ident)
        r.sent_at = time.monotonic()
        self.send(data)
        return r

    def request(self, method, target, headers=(), body=b"", timeout=10.0, **kw):
        r = self.start(method, target, headers, body, **kw)
        if not r.done.wait(timeout):
            raise AssertionError(f"{self.name}: no responseEnd for {method} {target!r} within {timeout}s")
        return r


def tidepool_cmd(args, role, app_dir, module, attr, threads):
    cmd = [args.tidepool, role, "--project", app_dir, "--import-root", app_dir,
           "--module", module, "--attr", attr, "--threads", str(threads)]
    if args.venv:
        cmd += ["--venv", args.venv]
    return cmd


def launch(cmd, name):
    """Starts cmd with one end of a fresh socketpair as its fd 3."""
    host_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    fd = child_end.fileno()
    shell = f'exec "$@" 3<&{fd} {fd}<&-'
    t0 = time.monotonic()
    proc = subprocess.Popen(["/bin/sh", "-c", shell, "sh"] + cmd, pass_fds=(fd,))
    child_end.close()
    ch = Channel(host_end, name)
    ch.proc, ch.started_at = proc, t0
    return ch


# ---------------------------------------------------------------- test apps

APPS = r'''
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
    "/slow": slow_stream, "/rand": rand_app,
}

def router(environ, start_response):
    path = environ["PATH_INFO"]
    for prefix, app in ROUTES.items():
        if path == prefix or path.startswith(prefix + "/"):
            return app(environ, start_response)
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"no route " + path.encode("latin-1")]
'''

FLASK_APP = r'''
import random
from flask import Flask, jsonify, request

app = Flask(__name__)

@app.get("/api/data")
def data():
    return jsonify(ok=True, items=[1, 2, 3])

@app.route("/api/items/<item_id>", methods=["GET", "POST"])
def item(item_id):
    return jsonify(id=item_id, args=request.args.to_dict(), body=request.get_data(as_text=True))

@app.get("/rand")
def rand():
    return str(random.random())
'''

# ---------------------------------------------------------------- checks

RESULTS = []


def check(name, cond, detail=""):
    RESULTS.append((name, bool(cond)))
    print(f"  {'ok  ' if cond else 'FAIL'} {name}" + (f"  [{detail}]" if detail else ""))
    return cond


def is_invocation_failed(r):
    return (r.status == 500 and r.header("x-tidepool-error") == "FUNCTION_INVOCATION_FAILED"
            and r.header("content-type") == "text/plain; charset=utf-8"
            and r.body.startswith(b"500: FUNCTION_INVOCATION_FAILED") and r.end["outcome"] == "complete")


def wait_exit(proc, timeout=3.0):
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def thread_count(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def test_spawn(args, app_dir):
    print("== spawned instance (router app, 8 threads)")
    ch = launch(tidepool_cmd(args, "_instance", app_dir, "apps", "router", 8), "spawn")
    t, ready, _ = ch.wait_control(K_READY, timeout=20)
    spawn_ms = (t - ch.started_at) * 1000
    check("ready kind spawn, 8 threads, phases python-init+import",
          ready["kind"] == "spawn" and ready["threads"] == 8
          and [p for p, _ in ready["phases"]] == ["python-init", "import"],
          f"spawn start {spawn_ms:.0f} ms; phases " + ", ".join(f"{p}={n / 1e6:.1f}ms" for p, n in ready["phases"]))
    STATS["spawn_ms"] = spawn_ms

    # environ
    target = "/env/caf%C3%A9/%7Euser%2Fx?x=1&y=%20z"
    r = ch.request("GET", target, headers=[("Host", "localhost:3000"), ("X-Multi", "a"), ("X-Multi", "b"),
                                           ("Cookie", "a=1"), ("Cookie", "b=2"), ("User-Agent", "drv"),
                                           ("X_Smuggled", "no")])
    env = json.loads(r.body)
    check("environ: PATH_INFO latin-1 round trip of percent-decoded bytes",
          bytes.fromhex(env["PATH_INFO"]) == b"/env/caf\xc3\xa9/~user/x", bytes.fromhex(env["PATH_INFO"]))
    check("environ: QUERY_STRING raw", env["QUERY_STRING"] == "x=1&y=%20z")
    check("environ: repeated headers joined (', ' and Cookie '; ')",
          env.get("HTTP_X_MULTI") == "a, b" and env.get("HTTP_COOKIE") == "a=1; b=2")
    check("environ: header with '_' dropped", "HTTP_X_SMUGGLED" not in env)
    check("environ: no CONTENT_TYPE/CONTENT_LENGTH without headers",
          "CONTENT_TYPE" not in env and "CONTENT_LENGTH" not in env)
    want = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "SERVER_NAME": "localhost", "SERVER_PORT": "3000",
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "54321",
            "wsgi.url_scheme": "http", "wsgi.multithread": True, "wsgi.multiprocess": True,
            "wsgi.run_once": False, "wsgi.input_terminated": True, "wsgi.version": [1, 0],
            "wsgi.input": "BytesIO", "HTTP_HOST": "localhost:3000", "_errors_is_stderr": True}
    bad = {k: (env.get(k), v) for k, v in want.items() if env.get(k) != v}
    check("environ: required keys and wsgi.*", not bad, bad or "")
    r = ch.request("POST", "/env", headers=[("Content-Type", "text/plain"), ("Transfer-Encoding", "chunked")],
                   body=b"12345")
    env = json.loads(r.body)
    check("environ: CONTENT_LENGTH = body length when a body arrived",
          env.get("CONTENT_LENGTH") == "5" and env.get("CONTENT_TYPE") == "text/plain")

    # validator
    ok = True
    for method, body in [("GET", b""), ("HEAD", b""), ("POST", b""), ("POST", b"a=1&b=2"),
                         ("POST", os.urandom(1 << 20)), ("PUT", b"line1\nline2\n"), ("PATCH", b"p"),
                         ("DELETE", b""), ("OPTIONS", b"")]:
        headers = [("Content-Length", str(len(body)))] if body else []
        r = ch.request(method, "/validated/x%20y?q=1", headers=headers, body=body)
        if r.status != 200 or r.end["outcome"] != "complete":
            ok = False
            print(f"     {method} {len(body)}B -> {r.status} {r.body[:200]!r} logs: {ch.logs()[-1:]}")
            continue
        if method != "HEAD":
            got = json.loads(r.body)
            if got["len"] != len(body) or got["sha"] != hashlib.sha256(body).hexdigest() or got["path"] != "/validated/x y":
                ok = False
                print(f"     {method}: {got}")
    check("wsgiref.validate: GET HEAD POST(empty, small, 1 MB) PUT PATCH DELETE OPTIONS", ok)

    # 1 MB body in 16 KiB frames, echoed digest
    body = os.urandom(1 << 20)
    r = ch.request("POST", "/echo", headers=[("Content-Length", str(len(body)))], body=body, chunk=16 << 10)
    got = json.loads(r.body)
    check("1 MB POST body arrives whole", got["len"] == len(body) and got["sha"] == hashlib.sha256(body).hexdigest())

    # big response split
    r = ch.request("GET", "/big")
    check("3 MiB response split into <= 1 MiB frames",
          len(r.body) == 256 * (3 * 4096 + 7) and len(r.chunks) == 4 and max(len(b) for _, b in r.chunks) <= 1 << 20,
          f"{len(r.chunks)} body frames")

    # batching: a list body goes as head+body+end in one write
    r = ch.request("GET", "/env")
    check("list body: head + body + end arrive in one read", r.recv_counts == [3, 3, 3], r.recv_counts)

    # streaming
    r = ch.request("GET", "/stream")
    first, last = r.chunks[0][0], r.chunks[-1][0]
    check("streaming: first chunk arrives before the last is produced",
          len(r.chunks) == 3 and last - first > 0.25 and r.body == b"chunk 0\nchunk 1\nchunk 2\n",
          f"first->last {1000 * (last - first):.0f} ms")

    # write() and close()
    r = ch.request("GET", "/write")
    check("write() callable", r.status == 200 and r.body == b"hello world")
    before = int(ch.request("GET", "/closed").body)
    ch.request("GET", "/close")
    r_fail = ch.request("GET", "/close?fail")
    after = int(ch.request("GET", "/closed").body)
    check("close() called on success and on error", after - before == 2 and r_fail.end["outcome"] == "aborted",
          f"{after - before} closes")

    # concurrency
    t0 = time.monotonic()
    rs = [ch.start("GET", "/sleep") for _ in range(8)]
    for r in rs:
        r.done.wait(10)
    elapsed = time.monotonic() - t0
    names = {r.body for r in rs}
    STATS["overlap_s"] = elapsed
    check("8 x sleep(0.2) on 8 threads overlap", all(r.status == 200 for r in rs) and elapsed < 0.6,
          f"{elapsed * 1000:.0f} ms total, {len(names)} distinct threads")
    cpu_ms = [r.end["cpu"] / 1e6 for r in rs]
    wall_ms = [r.end["wall"] / 1e6 for r in rs]
    check("responseEnd carries thread CPU and wall ns",
          all(c < 50 for c in cpu_ms) and all(190 < w < 1000 for w in wall_ms),
          f"cpu max {max(cpu_ms):.2f} ms, wall {min(wall_ms):.0f}-{max(wall_ms):.0f} ms")

    # failures
    cases = ["/raises", "/non-iterable", "/yields-str", "/no-start-response", "/bad-status", "/crlf-header",
             "/non-latin1-header", "/twice", "/too-long"]
    for path in cases:
        n = len(ch.logs())
        r = ch.request("GET", path)
        logs = ch.logs()[n:]
        check(f"broken app {path} -> 500 FUNCTION_INVOCATION_FAILED + error log",
              is_invocation_failed(r) and logs and f"GET {path}" in logs[0],
              (logs[0].splitlines()[0][:110] if logs else f"status {r.status}, no log"))
    n = len(ch.logs())
    ch.request("GET", "/raises")
    check("raise: log has the traceback", "Traceback (most recent call last)" in ch.logs()[n]
          and "ValueError: the app is broken on purpose" in ch.logs()[n])
    r = ch.request("GET", "/fails-after-head")
    check("failure after the head was sent -> aborted end",
          r.status == 200 and r.body == b"first" and r.end["outcome"] == "aborted", r.end.get("reason"))
    r = ch.request("GET", "/exc-info-before-head")
    check("exc_info before head replaces the head", r.status == 503 and r.body == b"handled by the app")
    r = ch.request("GET", "/exc-info-after-head")
    check("exc_info after head re-raises -> aborted", r.body == b"partial" and r.end["outcome"] == "aborted",
          r.end.get("reason"))

    # cancel: running stream, and a queued request
    r = ch.start("GET", "/slow")
    time.sleep(0.2)
    ch.send(frame(K_CANCEL, r.id))
    r.done.wait(5)
    check("cancel a running request -> aborted 'cancelled', stops early",
          r.end and r.end["outcome"] == "aborted" and r.end["reason"] == "cancelled" and len(r.chunks) < 20,
          f"{len(r.chunks)} chunks")
    partial = ch.start("POST", "/echo", body=b"abc", end=False)
    ch.send(frame(K_CANCEL, partial.id))
    partial.done.wait(5)
    check("cancel a request still receiving its body", partial.end and partial.end["reason"] == "cancelled")

    # stats
    n = len(ch.control)
    _, stats, _ = ch.wait_control(K_STATS, timeout=2.5, after=n)
    check("stats every ~1 s", stats["rss"] > 10 << 20 and stats["cpu"] > 0,
          f"rss {stats['rss'] >> 20} MiB, cpu {stats['cpu'] / 1e6:.0f} ms, in flight {stats['in_flight']}")

    r = ch.request("GET", "/env")
    check("still serving after every failure", r.status == 200)

    # drain with a request in flight
    r = ch.start("GET", "/sleep")
    time.sleep(0.05)
    ch.send(frame(K_DRAIN, 0))
    r.done.wait(5)
    code = wait_exit(ch.proc)
    check("drain: in-flight request finishes, then exit 0", r.status == 200 and code == 0, f"exit {code}")


def test_spawn_flask_and_close(args, app_dir):
    print("== spawned Flask instance, channel close")
    ch = launch(tidepool_cmd(args, "_instance", app_dir, "flask_app", "app", 4), "flask-spawn")
    t, ready, _ = ch.wait_control(K_READY, timeout=20)
    STATS["flask_spawn_ms"] = (t - ch.started_at) * 1000
    r = ch.request("GET", "/api/data")
    check("Flask /api/data", r.status == 200 and json.loads(r.body) == {"ok": True, "items": [1, 2, 3]},
          f"spawn start {STATS['flask_spawn_ms']:.0f} ms")
    r = ch.request("POST", "/api/items/42?x=1", headers=[("Content-Type", "text/plain"), ("Content-Length", "2")],
                   body=b"hi")
    check("Flask POST with route arg, query, body",
          json.loads(r.body) == {"id": "42", "args": {"x": "1"}, "body": "hi"})
    r = ch.request("GET", "/nope")
    check("Flask 404", r.status == 404)
    # close while a request is running: the instance must exit at once
    ch.start("GET", "/api/data")
    ch.close()
    t0 = time.monotonic()
    code = wait_exit(ch.proc)
    check("channel closed -> instance exits at once", code == 0, f"exit {code} in {1000 * (time.monotonic() - t0):.0f} ms")


def test_template(args, app_dir):
    print("== template (Flask), fork instances")
    ch = launch(tidepool_cmd(args, "_template", app_dir, "flask_app", "app", 4), "template")
    t, ready, _ = ch.wait_control(K_READY, timeout=20)
    STATS["template_ms"] = (t - ch.started_at) * 1000
    pid = ch.proc.pid
    check("template ready", ready["kind"] == "template" and ready["pid"] == pid,
          f"{STATS['template_ms']:.0f} ms; phases " + ", ".join(f"{p}={n / 1e6:.1f}ms" for p, n in ready["phases"]))
    check("template has exactly 1 thread", thread_count(pid) == 1, f"{thread_count(pid)} in /proc/{pid}/task")

    children, fork_ms = [], []
    for instance_id in (7, 8, 9):
        host_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        inst = Channel(host_end, f"fork-{instance_id}")
        n = len(ch.control)
        t0 = time.monotonic()
        socket.send_fds(ch.sock, [frame(K_FORK, instance_id)], [child_end.fileno()])
        child_end.close()
        _, forked, _ = ch.wait_control(K_FORKED, after=n)
        t1, cready, _ = inst.wait_control(K_READY)
        fork_ms.append((t1 - t0) * 1000)
        inst.pid = forked["pid"]
        children.append(inst)
        check(f"forkInstance({instance_id}) -> forked + child ready (kind fork)",
              cready["kind"] == "fork" and cready["pid"] == forked["pid"] and cready["threads"] == 4,
              f"{fork_ms[-1]:.1f} ms; phases " + ", ".join(f"{p}={n / 1e6:.2f}ms" for p, n in cready["phases"]))
        check("template still has 1 thread", thread_count(pid) == 1)
    STATS["fork_ms"] = fork_ms
    firsts = []
    for inst in children:
        t0 = time.monotonic()
        r = inst.request("GET", "/api/data")
        firsts.append((time.monotonic() - t0) * 1000)
        check(f"forked child {inst.pid} serves Flask", r.status == 200 and json.loads(r.body)["ok"] is True,
              f"first request {firsts[-1]:.1f} ms")
    STATS["fork_first_ms"] = firsts
    rands = {inst.request("GET", "/rand").body for inst in children}
    check("random re-seeded per child", len(rands) == len(children))

    # two forks back to back, descriptors not merged
    pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(2)]
    n = len(ch.control)
    socket.send_fds(ch.sock, [frame(K_FORK, 20)], [pairs[0][1].fileno()])
    socket.send_fds(ch.sock, [frame(K_FORK, 21)], [pairs[1][1].fileno()])
    for _, c in pairs:
        c.close()
    _, f20, i = ch.wait_control(K_FORKED, after=n)
    _, f21, _ = ch.wait_control(K_FORKED, after=i + 1)
    chans = [Channel(h, f"fork-{k}") for (h, _), k in zip(pairs, (20, 21))]
    ok = all(c.wait_control(K_READY)[1]["pid"] == f["pid"] for c, f in zip(chans, (f20, f21)))
    check("back-to-back forkInstance frames each get their own descriptor", ok)

    # fork without a descriptor -> failed, template keeps going
    n = len(ch.control)
    ch.send(frame(K_FORK, 30))
    _, failed, _ = ch.wait_control(K_FAILED, after=n)
    check("forkInstance without fd -> failed(fork), template alive",
          failed["phase"] == "fork" and ch.proc.poll() is None, failed["message"])

    # child exits when its channel closes, template reaps it
    victim = children[0]
    victim.close()
    time.sleep(1.5)
    state = None
    try:
        with open(f"/proc/{victim.pid}/stat") as f:
            state = f.read().split(") ")[1][0]
    except FileNotFoundError:
        pass
    check("closed child exits and is reaped (no zombie)", state is None, f"state {state}")
    r = children[1].request("GET", "/api/data")
    check("other children keep serving", r.status == 200)

    # host gone: template exits; children exit when their channels close
    ch.close()
    code = wait_exit(ch.proc)
    check("control socket closed -> template exits", code == 0, f"exit {code}")
    r = children[1].request("GET", "/api/data")
    check("forked children outlive the template while their channel is open", r.status == 200)
    for c in children[1:] + chans:
        c.close()


def test_failures(args, app_dir):
    print("== start failures")
    ch = launch(tidepool_cmd(args, "_instance", app_dir, "no_such_module", "app", 2), "bad-spawn")
    _, failed, _ = ch.wait_control(K_FAILED, timeout=20)
    code = wait_exit(ch.proc)
    check("spawn: missing module -> failed(import) with traceback, exit 1",
          failed["phase"] == "import" and "ModuleNotFoundError" in failed["message"]
          and "Traceback" in failed["message"] and code == 1, failed["message"].splitlines()[-1])
    ch = launch(tidepool_cmd(args, "_template", app_dir, "apps", "nope", 2), "bad-template")
    _, failed, _ = ch.wait_control(K_FAILED, timeout=20)
    code = wait_exit(ch.proc)
    check("template: missing attribute -> failed(import), exit 1", failed["phase"] == "import" and code == 1,
          failed["message"].splitlines()[0])
    ch = launch(tidepool_cmd(args, "_instance", app_dir, "apps", "closed", 2), "not-callable")
    _, failed, _ = ch.wait_control(K_FAILED, timeout=20)
    check("attribute not callable -> failed(import)", "not a WSGI callable" in failed["message"], failed["message"])
    wait_exit(ch.proc)


STATS = {}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tidepool", default=os.path.join(root, ".build-instance/debug/tidepool"))
    ap.add_argument("--venv", default="/tmp/inst-venv")
    ap.add_argument("-k", default="", help="run only tests whose name contains this")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="tp-driver-") as app_dir:
        with open(os.path.join(app_dir, "apps.py"), "w") as f:
            f.write(textwrap.dedent(APPS))
        with open(os.path.join(app_dir, "flask_app.py"), "w") as f:
            f.write(textwrap.dedent(FLASK_APP))
        for test in (test_spawn, test_spawn_flask_and_close, test_template, test_failures):
            if args.k in test.__name__:
                try:
                    test(args, app_dir)
                except AssertionError as e:
                    check(f"{test.__name__} ran to the end", False, str(e))
    failed = [n for n, ok in RESULTS if not ok]
    print("\n== numbers")
    for k, v in STATS.items():
        print(f"  {k}: " + (", ".join(f"{x:.1f}" for x in v) if isinstance(v, list) else f"{v:.3f}"))
    print(f"\n{len(RESULTS) - len(failed)}/{len(RESULTS)} checks passed")
    for n in failed:
        print(f"  FAILED: {n}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
