"""The host <-> instance wire protocol (Sources/TidepoolCore/Wire) in pure
Python, and a host-side Channel that starts `tidepool _instance/_template` with
one end of a socketpair as fd 3. Used by instance_driver.py (stdlib only)."""

import socket
import struct
import subprocess
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


