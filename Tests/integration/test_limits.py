"""Limits (issue 7, item 3): request body, response body, head size, URI length.

Not here (scoped out, see the branch note): maxConnections and per-instance
RSS recycling."""

import socket
import time

import pytest
import requests

from conftest import Tidepool, prepare_project

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("limits")
    project = prepare_project("hardened", tmp)
    config = tmp / "tidepool.toml"
    config.write_text("maxRequestBodyBytes = 100000\nmaxResponseBodyBytes = 200000\n"
                      "maxHeaderBytes = 8192\nmaxURIBytes = 2048\n")
    s = Tidepool(project, tmp / "logs", instances=1, threads=2, extra_args=["--config", str(config)])
    s.wait_ready()
    yield s
    s.stop()


def read_response(sock, timeout=5):
    sock.settimeout(timeout)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return data


def test_body_under_limit_is_served(server):
    r = server.request("POST", "/body", data=b"a" * 100000)
    assert r.status_code == 200 and r.json() == {"length": 100000}


def test_huge_declared_body_is_413_without_reading_it(server):
    """Content-Length: 100 MB, only a few bytes sent: the 413 comes at once (the
    front decided from the head) and the connection is closed."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n" + b"z" * 1000)
        t0 = time.monotonic()
        data = read_response(sock)
        elapsed = time.monotonic() - t0
    assert data.startswith(b"HTTP/1.1 413 "), data[:200]
    assert b"\r\nx-tidepool-error: FUNCTION_PAYLOAD_TOO_LARGE\r\n" in data, data[:400]
    assert elapsed < 3, f"413 took {elapsed:.2f}s"
    assert b"connection: close" in data.lower()
    assert server.get("/pid").status_code == 200


def test_chunked_body_over_limit_is_413(server):
    chunk = b"c" * 50000
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(3)) + b"0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"POST /body HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        try:
            sock.sendall(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = read_response(sock)
    assert data.startswith(b"HTTP/1.1 413 "), data[:200]
    assert b"\r\nx-tidepool-error: FUNCTION_PAYLOAD_TOO_LARGE\r\n" in data, data[:400]
    assert server.get("/pid").status_code == 200


def test_response_over_limit_is_500_payload_too_large(server):
    r = server.get("/big?300000")
    assert r.status_code == 500, r.status_code
    assert r.headers.get("x-tidepool-error") == "FUNCTION_RESPONSE_PAYLOAD_TOO_LARGE"
    assert "maxResponseBodyBytes" in server.stderr()
    # The instance is fine afterwards, and a response at the limit passes.
    r = server.get("/big?200000")
    assert r.status_code == 200 and len(r.content) == 200000


def test_streamed_response_is_not_limited(server):
    """Like Vercel: the limit applies to buffered responses; a streamed one (no
    Content-Length) may be larger."""
    r = server.get("/stream?393216")
    assert r.status_code == 200 and len(r.content) == 393216


def test_uri_too_long_is_414(server):
    r = server.get("/" + "a" * 3000)
    assert r.status_code == 414
    assert r.headers.get("x-tidepool-error") == "URL_TOO_LONG"
    assert server.get("/" + "a" * 1000).status_code == 200


def test_head_over_limit_is_431_and_closed(server):
    """A head over maxHeaderBytes is answered 431 REQUEST_HEADER_TOO_LARGE by the
    front's parser before the head is complete, and the connection closes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"h" * 10000 + b"\r\n\r\n")
        data = read_response(sock)
    assert data.startswith(b"HTTP/1.1 431 "), data[:200]
    assert b"\r\nx-tidepool-error: REQUEST_HEADER_TOO_LARGE\r\n" in data, data[:400]
    assert b"connection: close" in data.lower()
    assert server.get("/pid").status_code == 200


def test_head_at_the_limit_is_served(server):
    """A head of exactly maxHeaderBytes (line endings included) passes."""
    head = b"GET /pid HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: \r\n\r\n"
    pad = 8192 - len(head)
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(head.replace(b"X-Pad: ", b"X-Pad: " + b"p" * pad))
        data = read_response(sock)
    assert data.startswith(b"HTTP/1.1 200 "), data[:200]
