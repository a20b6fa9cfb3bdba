"""examples/flask through the real server: Vercel's template routes, the
favicon from public/ (served by the front), keep-alive, and a streaming
route whose first chunk arrives before the last one is produced.
Runs once per start mode (fork, spawn)."""

import http.client
import json
import socket
import time

import pytest

from conftest import EXAMPLE, json_of, module_server, raw_request

server = module_server("example", instances=2, threads=8)

pytestmark = pytest.mark.timeout(60)


def test_index_renders_template(server):
    r = server.get("/")
    assert r.status_code == 200, r.text[:500]
    assert r.headers["content-type"].startswith("text/html")
    assert "<title>Flask on Tidepool</title>" in r.text
    assert "/api/items/3" in r.text  # rendered by the Jinja loop


def test_api_data(server):
    r = server.get("/api/data")
    assert r.status_code == 200
    data = json_of(r)
    assert data["total"] == 3
    assert [item["id"] for item in data["data"]] == [1, 2, 3]


def test_api_item(server):
    r = server.get("/api/items/1")
    assert r.status_code == 200
    assert json_of(r) == {"item": {"id": 1, "name": "Sample Item 1", "value": 100}}


def test_api_unknown_item_is_json_404(server):
    r = server.get("/api/items/999")
    assert r.status_code == 404
    assert json_of(r) == {"error": "Item not found", "id": 999}
    assert "x-tidepool-error" not in r.headers  # the app's 404, not the host's


def test_api_item_non_integer_is_flask_404(server):
    r = server.get("/api/items/abc")
    assert r.status_code == 404
    assert "x-tidepool-error" not in r.headers


def test_unknown_path_reaches_the_app(server):
    r = server.get("/no/such/page.txt")
    assert r.status_code == 404
    assert "Not Found" in r.text  # Flask's own 404 page


def test_favicon_from_public(server):
    r = server.get("/favicon.ico")
    assert r.status_code == 200
    assert r.headers["content-type"] in ("image/x-icon", "image/vnd.microsoft.icon")
    assert r.content == (EXAMPLE / "public" / "favicon.ico").read_bytes()
    assert r.content[:4] == b"\x00\x00\x01\x00"


def test_favicon_head(server):
    r = server.request("HEAD", "/favicon.ico")
    assert r.status_code == 200
    assert r.content == b""
    assert int(r.headers["content-length"]) == (EXAMPLE / "public" / "favicon.ico").stat().st_size


def test_loadtest_routes(server):
    r = server.get("/api/hello")
    assert r.status_code == 200 and r.text == "Hello from Tidepool\n"
    r = server.get("/api/sleep?ms=20")
    assert r.status_code == 200 and json_of(r)["slept_ms"] == 20
    r = server.get("/api/cpu?ms=5")
    assert r.status_code == 200 and json_of(r)["cpu_ms"] == 5


def test_keep_alive_two_requests_one_connection(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", "/api/data")
        r1 = conn.getresponse()
        body1 = r1.read()
        sock1 = conn.sock
        assert sock1 is not None, "server closed the connection after the first response"
        conn.request("GET", "/api/items/2")
        r2 = conn.getresponse()
        body2 = r2.read()
        assert conn.sock is sock1, "second request needed a new connection"
    finally:
        conn.close()
    assert r1.status == 200 and json.loads(body1)["total"] == 3
    assert r2.status == 200 and json.loads(body2)["item"]["id"] == 2


def test_streaming_first_chunk_before_last(server):
    """/api/stream yields 'chunk i' every 300 ms; the first must reach the
    client long before the last is produced (no buffering of the response)."""
    chunks, delay_ms = 5, 300
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        start = time.monotonic()
        sock.sendall(f"GET /api/stream?chunks={chunks}&delay_ms={delay_ms} HTTP/1.1\r\n"
                     f"Host: 127.0.0.1\r\n\r\n".encode())  # keep-alive: needs chunked framing
        data = b""
        first_at = head_at = None
        while True:
            try:
                piece = sock.recv(65536)
            except socket.timeout:
                pytest.fail(f"stream did not end (no chunked terminator) within 10 s; got {data[:300]!r}")
            if not piece:
                break
            data += piece
            now = time.monotonic() - start
            if head_at is None and b"\r\n\r\n" in data:
                head_at = now
            if first_at is None and b"chunk 0\n" in data:
                first_at = now
            if data.endswith(b"\r\n0\r\n\r\n"):  # last-chunk marker
                break
        total = time.monotonic() - start
    finally:
        sock.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert b"transfer-encoding: chunked" in head.lower(), f"response was not streamed chunked: {head!r}"
    for i in range(chunks):
        assert f"chunk {i}\n".encode() in body
    produced_last = (chunks - 1) * delay_ms / 1000
    assert total >= produced_last * 0.9, f"stream ended after {total:.3f}s, before its last chunk was due"
    assert first_at is not None
    assert first_at < 0.5 * total, f"first chunk at {first_at:.3f}s of {total:.3f}s: the response was buffered"


@pytest.mark.parametrize("target", ["/../main.py", "/%2e%2e/main.py", "/..%2fmain.py", "/public/../main.py",
                                    "/%2e%2e%2f%2e%2e%2fetc/passwd", "/main.py", "/pyproject.toml"])
def test_no_file_outside_public_is_served(server, target):
    status, _, body = raw_request(server.port, f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert b"create_app" not in body and b"root:" not in body and b"[project]" not in body, (status, body[:300])
