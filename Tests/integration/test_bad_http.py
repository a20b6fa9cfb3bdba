"""Bad HTTP (issue 7, item 4): a corpus of malformed raw requests sent over
plain sockets. Each gets its expected status and the connection closed, and a
valid request on a new connection right after is served. Request smuggling
(CL.TE, TE.CL, TE.TE, duplicate CL): the embedded second request never
reaches the app (the fixture logs every request it sees). Slow clients and
pipelined streams: test_request_stream.py."""

import time

import pytest

from raw_http import app_log, exchange, start_guarded_server, status_of

pytestmark = pytest.mark.timeout(120)

H = b"Host: x\r\n"

# (id, raw request, expected status). Every one is answered by the front's own
# parser (RequestParser / HTTPRequestHead / RequestFraming in TidepoolCore/HTTP).
CORPUS = [
    # request line
    ("garbage-line", b"HELLO\r\n\r\n", 400),
    ("no-version", b"GET /\r\n" + H + b"\r\n", 400),
    ("bad-version", b"GET / HTTP/x.y\r\n" + H + b"\r\n", 400),
    ("version-2", b"GET / HTTP/2.0\r\n" + H + b"\r\n", 505),
    ("version-0.9", b"GET / HTTP/0.9\r\n" + H + b"\r\n", 505),
    ("extra-spaces", b"GET  /  HTTP/1.1\r\n" + H + b"\r\n", 400),
    ("four-tokens", b"GET / HTTP/1.1 extra\r\n" + H + b"\r\n", 400),
    ("http2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),
    # An unknown method (methods are case-sensitive) is 501, as RFC 9110 §9.1 asks.
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
    # chunk sizes: the parser checks each size line as it arrives.
    ("chunk-size-not-hex", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400),
    ("chunk-size-negative", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n-5\r\nabc\r\n0\r\n\r\n", 400),
    ("chunk-size-huge", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nabc\r\n", 400),
    ("chunk-size-plus", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n+3\r\nabc\r\n0\r\n\r\n", 400),
    ("chunk-size-0x", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n0x3\r\nabc\r\n0\r\n\r\n", 400),
    ("chunk-size-empty", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n\r\nabc\r\n0\r\n\r\n", 400),
    ("chunk-missing-crlf", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabcXX0\r\n\r\n", 400),
    ("chunk-size-junk", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n3 junk\r\nabc\r\n0\r\n\r\n", 400),
    # A HEAD with a body is refused: a hop that ignores such a body would read it as the next request.
    ("head-with-body", b"HEAD / HTTP/1.1\r\n" + H + b"Content-Length: 29\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n", 400),
    ("head-chunked", b"HEAD / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    # limits
    ("head-over-limit", b"GET / HTTP/1.1\r\n" + H + b"X-Big: " + b"h" * 40000 + b"\r\n\r\n", 431),
    ("request-line-over-limit", b"GET /" + b"a" * 40000 + b" HTTP/1.1\r\n" + H + b"\r\n", 414),
    ("declared-body-over-limit", b"POST / HTTP/1.1\r\n" + H + b"Content-Length: 4500001\r\n\r\nabc", 413),
    ("chunked-body-over-limit", b"POST / HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n\r\n44aa21\r\nabc", 413),
]

# Cases answered with the code in `x-tidepool-error` (the rest carry it too
# since the front parses requests itself; these are pinned).
GUARDED = {
    "chunk-size-not-hex": "MALFORMED_REQUEST", "chunk-size-negative": "MALFORMED_REQUEST",
    "chunk-size-huge": "MALFORMED_REQUEST", "chunk-size-plus": "MALFORMED_REQUEST",
    "chunk-size-0x": "MALFORMED_REQUEST", "chunk-size-empty": "MALFORMED_REQUEST",
    "chunk-missing-crlf": "MALFORMED_REQUEST", "chunk-size-junk": "MALFORMED_REQUEST", "head-with-body": "MALFORMED_REQUEST",
    "head-chunked": "MALFORMED_REQUEST", "obs-fold-first-line": "MALFORMED_REQUEST",
    "cl-and-te": "MALFORMED_REQUEST", "duplicate-cl-same": "MALFORMED_REQUEST",
    "head-over-limit": "REQUEST_HEADER_TOO_LARGE", "request-line-over-limit": "URL_TOO_LONG",
    "declared-body-over-limit": "FUNCTION_PAYLOAD_TOO_LARGE", "chunked-body-over-limit": "FUNCTION_PAYLOAD_TOO_LARGE",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from start_guarded_server(tmp_path_factory)


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


def test_chunk_extensions_and_later_minor_versions_are_served(server):
    """Valid HTTP the front once refused: chunk extensions (RFC 9112 §7.1.1)
    are ignored, and HTTP/1.x with x > 1 is served as HTTP/1.1 (RFC 9110 §2.5)."""
    raw, _ = exchange(server.port, b"POST /body HTTP/1.1\r\n" + H + b"Transfer-Encoding: chunked\r\n"
                      b"Connection: close\r\n\r\n3;name=value\r\nabc\r\n2 ;a;b=\"c d\"\r\nde\r\n0\r\n\r\n")
    assert status_of(raw) == 200 and raw.endswith(b'{"length": 5}'), raw
    raw, _ = exchange(server.port, b"GET /x HTTP/1.2\r\n" + H + b"Connection: close\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200 ") and raw.endswith(b"ok /x"), raw


def test_corpus_is_big_enough():
    assert len(CORPUS) >= 30


def test_framing_errors_carry_the_tidepool_code(server):
    """Framing and syntax errors are answered with our code."""
    for case in ("duplicate-cl-same", "space-in-target", "header-ctl-in-value"):
        raw, _ = exchange(server.port, CORPUS[[c[0] for c in CORPUS].index(case)][1])
        assert b"\r\nx-tidepool-error: MALFORMED_REQUEST\r\n" in raw, (case, raw[:400])


def test_nul_in_header_value_cannot_inject(server):
    """A NUL in a header value is a control byte: 400 with our code, and
    nothing reaches the app. (Under evhttp, which kept values as C strings,
    the NUL silently cut the value and the request was served.)"""
    before = app_log(server)
    raw, closed = exchange(server.port, b"GET /headers HTTP/1.1\r\nHost: x\r\nX-A: a\x00Injected: b\r\nConnection: close\r\n\r\n")
    assert status_of(raw) == 400, raw[:300]
    assert b"\r\nx-tidepool-error: MALFORMED_REQUEST\r\n" in raw, raw[:300]
    assert closed and app_log(server) == before


def test_bare_lf_is_accepted(server):
    """The front reads bare-LF line endings (RFC 9112 §2.2 allows a recipient to);
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
