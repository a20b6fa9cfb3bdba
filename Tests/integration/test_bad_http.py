"""Bad HTTP (issue 7, item 4): a corpus of malformed raw requests sent over
plain sockets. Each gets its expected status and the connection closed, and a
valid request on a new connection right after is served. Request smuggling
(CL.TE, TE.CL, TE.TE, duplicate CL): the embedded second request never
reaches the app (the fixture logs every request it sees). Slow clients time
out without holding the only instance slot."""

import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import Tidepool, prepare_project

pytestmark = pytest.mark.timeout(120)

H = b"Host: x\r\n"

# (id, raw request, expected status). 400 comes from evhttp's parser or from
# the front's framing checks (FrontGuard.swift / RequestFraming.swift).
CORPUS = [
    # request line
    ("garbage-line", b"HELLO\r\n\r\n", 400),
    ("no-version", b"GET /\r\n" + H + b"\r\n", 400),
    ("bad-version", b"GET / HTTP/x.y\r\n" + H + b"\r\n", 400),
    ("version-2", b"GET / HTTP/2.0\r\n" + H + b"\r\n", 400),
    ("extra-spaces", b"GET  /  HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("four-tokens", b"GET / HTTP/1.1 extra\r\n" + H + b"\r\n", 400),
    ("http2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400),
    # evhttp answers an unknown method (methods are case-sensitive) with 501, as RFC 9110 §9.1 asks.
    ("lowercase-method", b"get / HTTP/1.1\r\n" + H + b"\r\n", 501),
    ("unknown-method", b"BREW / HTTP/1.1\r\n" + H + b"\r\n", 501),
    ("space-in-target", b"GET /a b HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("nul-in-target", b"GET /a\x00b HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("absolute-form-bad-host", b"GET http://[::1 HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("absolute-form-bad-port", b"GET http://host:99999999999/ HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("empty-target", b"GET  HTTP/1.1\r\n" + H + b"\r\n", 400),
    # header syntax
    ("header-no-colon", b"GET / HTTP/1.1\r\n" + H + b"NoColonHere\r\n\r\n", 400),
    ("header-space-before-colon", b"GET / HTTP/1.1\r\n" + H + b"X-A : b\r\n\r\n", 400),
    ("header-empty-name", b"GET / HTTP/1.1\r\n" + H + b": value\r\n\r\n", 400),
    ("header-cr-in-value", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\rb\r\n\r\n", 400),
    ("header-ctl-in-value", b"GET / HTTP/1.1\r\n" + H + b"X-A: a\x01b\r\n\r\n", 400),
    ("header-name-with-slash", b"GET / HTTP/1.1\r\n" + H + b"X/A: b\r\n\r\n", 400),
    ("obs-fold-first-line", b"GET / HTTP/1.1\r\n continued\r\n" + H + b"\r\n", 400),
    # framing
    ("cl-and-te", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("duplicate-cl-same", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 1\r\nContent-Length: 1\r\n\r\nA", 400),
    ("duplicate-cl-diff", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nAB", 400),
    ("negative-cl", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: -5\r\n\r\n", 400),
    ("non-numeric-cl", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: abc\r\n\r\n", 400),
    ("cl-list", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 1, 1\r\n\r\nA", 400),
    ("cl-plus-sign", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: +1\r\n\r\nA", 400),
    ("te-unknown", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: gzip\r\n\r\n", 400),
    ("te-xchunked", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: xchunked\r\nContent-Length: 3\r\n\r\nabc", 400),
    ("te-chunked-identity", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 400),
    ("te-twice", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    # chunk sizes: the request guard (RequestGuard.swift) checks each size line before evhttp reads it.
    ("chunk-size-not-hex", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400),
    ("chunk-size-negative", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n-5\r\nabc\r\n0\r\n\r\n", 400),
    ("chunk-size-huge", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nabc\r\n", 400),
    ("chunk-size-plus", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n+3\r\nabc\r\n0\r\n\r\n", 400),
    ("chunk-size-0x", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n", 400),
    ("chunk-size-empty", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n\r\nabc\r\n0\r\n\r\n", 400),
    ("chunk-missing-crlf", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabcXX0\r\n\r\n", 400),
    # evhttp 2.1 never reads a HEAD body: it would parse it as the next request.
    ("head-with-body", b"HEAD / HTTP/1.1\r\n" + H + b"Content-Length: 29\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n", 400),
    ("head-chunked", b"HEAD / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    # limits
    ("head-over-limit", b"GET / HTTP/1.1\r\n" + H + b"X-Big: " + b"h" * 40000 + b"\r\n\r\n", 431),
    ("request-line-over-limit", b"GET /" + b"a" * 40000 + b" HTTP/1.1\r\n" + H + b"\r\n", 414),
    ("declared-body-over-limit", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 4500001\r\n\r\nabc", 413),
    ("chunked-body-over-limit", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n44aa21\r\nabc", 413),
]

# Cases the front (not evhttp) answers, with the code in `x-tidepool-error`.
GUARDED = {
    "chunk-size-not-hex": "MALFORMED_REQUEST", "chunk-size-negative": "MALFORMED_REQUEST",
    "chunk-size-huge": "MALFORMED_REQUEST", "chunk-size-plus": "MALFORMED_REQUEST",
    "chunk-size-0x": "MALFORMED_REQUEST", "chunk-size-empty": "MALFORMED_REQUEST",
    "chunk-missing-crlf": "MALFORMED_REQUEST", "head-with-body": "MALFORMED_REQUEST",
    "head-chunked": "MALFORMED_REQUEST", "obs-fold-first-line": "MALFORMED_REQUEST",
    "cl-and-te": "MALFORMED_REQUEST", "duplicate-cl-same": "MALFORMED_REQUEST",
    "head-over-limit": "REQUEST_HEADER_TOO_LARGE", "request-line-over-limit": "URL_TOO_LONG",
    "declared-body-over-limit": "FUNCTION_PAYLOAD_TOO_LARGE", "chunked-body-over-limit": "FUNCTION_PAYLOAD_TOO_LARGE",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("badhttp")
    project = prepare_project("hardened", tmp)
    config = tmp / "tidepool.toml"
    config.write_text("clientTimeout = 2\nheaderTimeout = 1.5\nbodyTimeout = 1.5\n")
    s = Tidepool(project, tmp / "logs", instances=1, threads=1, extra_args=["--config", str(config)])
    s.wait_ready()
    yield s
    s.stop()


def app_log(server):
    path = server.project / "requests.log"
    return path.read_text() if path.exists() else ""


def exchange(port, data, timeout=5.0):
    """Send `data`, read until the server closes (or timeout). Returns (bytes, closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                return b"".join(chunks), True
            except socket.timeout:
                return b"".join(chunks), False
            if not chunk:
                return b"".join(chunks), True
            chunks.append(chunk)
        return b"".join(chunks), False


def status_of(raw):
    line = raw.split(b"\r\n", 1)[0]
    parts = line.split(b" ")
    return int(parts[1]) if len(parts) > 1 and parts[0].startswith(b"HTTP/") and parts[1].isdigit() else None


@pytest.mark.parametrize("case, data, expected", CORPUS, ids=[c[0] for c in CORPUS])
def test_malformed_request_rejected_and_closed(server, case, data, expected):
    before = app_log(server)
    raw, closed = exchange(server.port, data)
    assert status_of(raw) == expected, f"{case}: expected {expected}, got {raw[:300]!r}"
    assert raw.count(b"HTTP/1.") == 1, f"{case}: more than one response: {raw[:600]!r}"
    assert closed, f"{case}: connection left open after {expected}"
    assert app_log(server) == before, f"{case}: the app saw it: {app_log(server)[len(before):]!r}"
    if case in GUARDED:
        assert f"\r\nx-tidepool-error: {GUARDED[case]}\r\n".encode() in raw, f"{case}: {raw[:400]!r}"
        assert b"\r\nconnection: close\r\n" in raw.lower(), f"{case}: {raw[:400]!r}"
    # A valid request on a new connection is unaffected.
    r = server.get("/after")
    assert r.status_code == 200 and r.text == "ok /after"


def test_corpus_is_big_enough():
    assert len(CORPUS) >= 30


def test_framing_errors_carry_the_tidepool_code(server):
    """What evhttp accepts but the front rejects (RequestFraming) is answered with our code."""
    for case in ("duplicate-cl-same", "space-in-target", "header-ctl-in-value"):
        raw, _ = exchange(server.port, CORPUS[[c[0] for c in CORPUS].index(case)][1])
        assert b"\r\nx-tidepool-error: MALFORMED_REQUEST\r\n" in raw, (case, raw[:400])


def test_nul_in_header_value_cannot_inject(server):
    """evhttp keeps header values as C strings: a NUL cuts the value there
    (the front cannot see past it to reject it). Nothing after the NUL reaches the app."""
    raw, _ = exchange(server.port, b"GET /headers HTTP/1.1\r\nHost: x\r\nX-A: a\x00Injected: b\r\nConnection: close\r\n\r\n")
    assert status_of(raw) == 200, raw[:300]
    body = raw.split(b"\r\n\r\n", 1)[1]
    assert b'"HTTP_X_A": "a"' in body and b"Injected" not in body and b"INJECTED" not in body, body


def test_bare_lf_is_accepted(server):
    """evhttp reads bare-LF line endings (RFC 9112 §2.2 allows a recipient to);
    documented behaviour, not a smuggling vector since we are the only parser."""
    raw, _ = exchange(server.port, b"GET /bare-lf HTTP/1.1\nHost: x\nConnection: close\n\n")
    assert status_of(raw) == 200 and raw.endswith(b"ok /bare-lf"), raw[:300]


SMUGGLING = [
    # CL.TE: a front that honours CL would see one request; a back end that honours TE, two.
    ("CL.TE", b"POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 35\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nX: y\r\n\r\n"),
    # TE.CL
    ("TE.CL", b"POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"1e\r\nGET /smuggled HTTP/1.1\r\nX: y\r\n\r\n0\r\n\r\n"),
    # TE.TE: an obfuscated second Transfer-Encoding.
    ("TE.TE", b"POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-encoding: x\r\n"
              b"Content-Length: 4\r\n\r\n5c\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n0\r\n\r\n"),
    ("TE-space", b"POST /first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\nContent-Length: 4\r\n\r\n"
                 b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("CL.CL", b"POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 38\r\n\r\n"
              b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"),
]


@pytest.mark.parametrize("case, data", SMUGGLING, ids=[c[0] for c in SMUGGLING])
def test_no_request_smuggling(server, case, data):
    raw, closed = exchange(server.port, data)
    assert status_of(raw) == 400, f"{case}: {raw[:300]!r}"
    assert closed
    time.sleep(0.2)
    log = app_log(server)
    assert "/smuggled" not in log, f"{case}: the embedded request reached the app:\n{log}"
    assert "/first" not in log, f"{case}: the ambiguous request reached the app:\n{log}"


@pytest.mark.parametrize("kind", ["head", "body"])
def test_stalled_client_times_out_without_holding_a_slot(server, kind):
    """A client that trickles part of its request and then goes quiet is
    disconnected after clientTimeout (2 s here), and while it trickles the only
    instance slot (1 instance x 1 thread) still serves a normal request.
    (One that keeps trickling is cut by headerTimeout/bodyTimeout: below.)"""
    if kind == "head":
        data = b"GET /slow HTTP/1.1\r\nHost: x\r\nX-Long: aaaaaaaaaa"
    else:
        data = b"POST /slow HTTP/1.1\r\nHost: x\r\nContent-Length: 200\r\n\r\nbbbbbbbbbb"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for byte in data:
            sock.sendall(bytes([byte]))
            time.sleep(0.01)
        t0 = time.monotonic()
        r = requests.get(server.url("/pid"), timeout=5)
        assert r.status_code == 200
        assert time.monotonic() - t0 < 1.5, "a normal request waited behind a trickling client"
        sock.settimeout(8)
        stalled_at = time.monotonic()
        try:
            rest = sock.recv(65536)
        except ConnectionResetError:
            rest = b""
        waited = time.monotonic() - stalled_at
    assert rest == b"" or status_of(rest) in (400, 408), rest[:200]
    assert 1.0 < waited < 6.0, f"stalled client closed after {waited:.2f}s (clientTimeout = 2 s)"
    assert "/slow" not in app_log(server)


def read_responses(sock, count, timeout=5.0):
    """Reads until `count` complete responses (each with Content-Length) or close."""
    sock.settimeout(timeout)
    data = b""
    while True:
        responses, rest = split_responses(data)
        if len(responses) >= count:
            return responses, False
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return split_responses(data)[0], True
        except socket.timeout:
            return responses, False
        if not chunk:
            return split_responses(data)[0], True
        data += chunk


def split_responses(data):
    responses = []
    while b"\r\n\r\n" in data:
        head, rest = data.split(b"\r\n\r\n", 1)
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if len(rest) < length:
            break
        responses.append((head, rest[:length]))
        data = rest[length:]
    return responses, data


def error_code(head):
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"x-tidepool-error":
            return value.strip().decode()
    return None


@pytest.mark.parametrize("bad, status, code", [
    (b"GET /big HTTP/1.1\r\nHost: x\r\nX-Big: " + b"h" * 40000 + b"\r\n\r\n", 431, "REQUEST_HEADER_TOO_LARGE"),
    (b"POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 9999999\r\n\r\n", 413, "FUNCTION_PAYLOAD_TOO_LARGE"),
    (b"POST /bad HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "MALFORMED_REQUEST"),
], ids=["431", "413", "bad-chunk"])
def test_pipelined_requests_before_a_refused_one_are_served_in_order(server, bad, status, code):
    """Two valid pipelined requests (one with a chunked body), then a bad one,
    in one write: both valid ones are answered, in order, then the refusal with
    our code, then the connection closes. Nothing of the bad one reaches the app."""
    before = app_log(server)
    good = (b"GET /one HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /two HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        try:
            sock.sendall(good + bad)
        except (BrokenPipeError, ConnectionResetError):
            pass
        responses, _ = read_responses(sock, 3)
        assert [status_of(h) for h, _ in responses] == [200, 200, status], responses
        assert responses[0][1] == b"ok /one" and responses[1][1] == b"ok /two"
        assert error_code(responses[2][0]) == code
        sock.settimeout(3)
        try:
            assert sock.recv(100) == b""
        except ConnectionResetError:
            pass
    log = app_log(server)[len(before):]
    assert "/one" in log and "/two" in log and "/big" not in log and "/bad" not in log, log
    assert server.get("/after").status_code == 200


def test_keep_alive_requests_then_a_bad_chunk_in_a_later_read(server):
    """Requests on one keep-alive connection, then a chunked request whose bad
    chunk size arrives after its head was parsed: 400 with our code, closed."""
    before = app_log(server)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        for path in ("/ka1", "/ka2"):
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok".encode())
            responses, _ = read_responses(sock, 1)
            assert [status_of(h) for h, _ in responses] == [200]
        sock.sendall(b"POST /late HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        time.sleep(0.3)
        sock.sendall(b"-1\r\n")
        responses, closed = read_responses(sock, 1)
        assert [status_of(h) for h, _ in responses] == [400], responses
        assert error_code(responses[0][0]) == "MALFORMED_REQUEST"
        if not closed:
            sock.settimeout(3)
            try:
                assert sock.recv(100) == b""
            except ConnectionResetError:
                pass
    log = app_log(server)[len(before):]
    assert "/ka1" in log and "/ka2" in log and "/late" not in log, log
    assert server.get("/after").status_code == 200


@pytest.mark.parametrize("kind", ["head", "body"])
def test_trickling_client_is_cut_at_the_total_deadline(server, kind):
    """One byte every 0.3 s — always within clientTimeout (2 s) — is cut once
    headerTimeout / bodyTimeout (1.5 s here) has passed: 408 REQUEST_TIMEOUT,
    connection closed. Meanwhile the only instance slot serves others, and the
    trickled request never reaches the app."""
    if kind == "head":
        prefix = b""
        trickle = b"GET /trickle HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 100
    else:
        prefix = b"POST /trickle HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"
        trickle = b"b" * 100
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        if prefix:
            sock.sendall(prefix)
        start = time.monotonic()
        answer = b""
        served_meanwhile = False
        for i, byte in enumerate(trickle):
            try:
                sock.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            if i == 2:
                served_meanwhile = requests.get(server.url("/pid"), timeout=5).status_code == 200
            sock.settimeout(0.3)
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                continue
            except ConnectionResetError:
                break
            answer += chunk
            if not chunk or b"\r\n\r\n" in answer:
                break
        cut_after = time.monotonic() - start
        sock.settimeout(3)
        try:
            while b"\r\n\r\n" not in answer:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    assert served_meanwhile
    assert status_of(answer) == 408, answer[:300]
    assert b"\r\nx-tidepool-error: REQUEST_TIMEOUT\r\n" in answer, answer[:300]
    assert 1.4 < cut_after < 3.5, f"cut after {cut_after:.2f}s (deadline 1.5 s, a byte every 0.3 s)"
    assert "/trickle" not in app_log(server)
    assert server.get("/after").status_code == 200


def test_heads_split_across_reads_are_served(server):
    """The guard holds an incomplete head back and gives it to the parser
    whole: heads sent a few bytes at a time, on a keep-alive connection with a
    pipelined request in the same write as the start of the next head, are
    all served in order."""
    first = b"POST /split1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
    second = b"GET /split2 HTTP/1.1\r\nHost: x\r\n\r\n"
    third = b"POST /split3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
    stream = first + second + third
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for start in range(0, len(stream), 7):
            sock.sendall(stream[start:start + 7])
            time.sleep(0.005)
        responses, _ = read_responses(sock, 3)
    assert [(status_of(h), b) for h, b in responses] == [
        (200, b"ok /split1"), (200, b"ok /split2"), (200, b"ok /split3")], responses
