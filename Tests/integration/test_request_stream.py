"""Request streams (issue 7, item 4): slow clients are cut by clientTimeout
when they go quiet and by the total headerTimeout/bodyTimeout when they keep
trickling, never holding the only instance slot; pipelined and keep-alive
requests before a refused one are answered in order; heads split across reads
are served.

One instance x one thread, so a held slot would show at once."""

import socket
import time

import pytest
import requests

from raw_http import app_log, assert_closed, error_code, read_responses, start_guarded_server, status_of

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    yield from start_guarded_server(tmp_path_factory)


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
        assert_closed(sock)
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
            assert_closed(sock)
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
