"""PEP 3333 conformance of the native WSGI bridge, through the real front.

The fixture app (apps/wsgi_echo/app.py) is wrapped in wsgiref.validate.validator:
any violation raises inside the app and turns the response into a 500, so a
200 here means the validator found nothing wrong with what the server did.
Runs once per start mode (fork, spawn).
"""

import hashlib
import http.client
import json
import os
import time

import pytest

from conftest import module_server, raw_request

server = module_server("wsgi_echo", instances=2, threads=8)

pytestmark = pytest.mark.timeout(60)


def echo(server, method="GET", path="/echo", **kw):
    r = server.request(method, path, **kw)
    assert r.status_code == 200, (
        f"{method} {path}: {r.status_code} x-tidepool-error={r.headers.get('x-tidepool-error')} "
        f"body={r.text[:800]}")
    assert r.headers.get("content-type") == "application/json"
    answer = json.loads(r.content)
    assert answer["missing"] == [], f"environ lacks required keys: {answer['missing']}"
    assert answer["environ_types_ok"], "environ has non-str CGI values"
    return answer


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- environ --------------------------------------------------------------

def test_get_environ(server):
    a = echo(server, "GET", "/echo/path", headers={"X-Custom-Header": "custom value", "User-Agent": "itest"})
    assert a["method"] == "GET"
    assert a["script_name"] == ""
    assert a["path_info"] == "/echo/path"
    assert a["query_string"] == ""
    assert a["server_protocol"] == "HTTP/1.1"
    assert a["server_port"] == str(server.port)
    assert a["server_name"]
    assert a["remote_addr"] == "127.0.0.1"
    assert a["headers"]["HTTP_X_CUSTOM_HEADER"] == "custom value"
    assert a["headers"]["HTTP_USER_AGENT"] == "itest"
    assert a["headers"]["HTTP_HOST"] == f"127.0.0.1:{server.port}"
    assert a["wsgi"] == {"version": [1, 0], "url_scheme": "http", "multithread": True,
                         "multiprocess": True, "run_once": False}
    assert a["body_length"] == 0
    assert a["eof_after_body"] is True


def test_query_string_is_raw(server):
    a = echo(server, "GET", "/echo?x=1&y=%20z&e=caf%C3%A9&flag&x=2")
    assert a["query_string"] == "x=1&y=%20z&e=caf%C3%A9&flag&x=2"
    assert a["path_info"] == "/echo"


def test_percent_encoded_path_is_decoded(server):
    a = echo(server, "GET", "/echo/a%20b/c%3Fd")
    assert a["path_info"] == "/echo/a b/c?d"
    assert a["query_string"] == ""


def test_non_ascii_path_latin1_round_trip(server):
    # PEP 3333: PATH_INFO is the URL-decoded bytes as a latin-1 str.
    a = echo(server, "GET", "/caf%C3%A9")
    assert a["path_info"] == "/caf\xc3\xa9"
    assert a["path_info_utf8"] == "/café"


def test_raw_utf8_path_latin1_round_trip(server):
    # Some clients send UTF-8 bytes unencoded in the request target.
    target = "/caf\u00e9/\u6f22".encode("utf-8")
    status, _, body = raw_request(server.port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 200, body[:500]
    assert json.loads(body)["path_info"] == target.decode("latin-1")


def test_repeated_headers_are_joined(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.putrequest("GET", "/echo")
        conn.putheader("X-Multi", "a")
        conn.putheader("X-Multi", "b")
        conn.putheader("X-Multi", "c d")
        conn.endheaders()
        r = conn.getresponse()
        body = r.read()
    finally:
        conn.close()
    assert r.status == 200, body[:500]
    assert json.loads(body)["headers"]["HTTP_X_MULTI"] == "a, b, c d"


def test_content_type_and_length_are_not_http_prefixed(server):
    a = echo(server, "POST", "/echo", data=b"abc", headers={"Content-Type": "text/plain; charset=utf-8"})
    assert a["content_type"] == "text/plain; charset=utf-8"
    assert a["content_length"] == "3"
    assert "HTTP_CONTENT_TYPE" not in a["headers"]
    assert "HTTP_CONTENT_LENGTH" not in a["headers"]


# --- methods and bodies ---------------------------------------------------

def test_head_has_no_body(server):
    r = server.request("HEAD", "/echo")
    assert r.status_code == 200, r.headers
    assert r.content == b""
    assert r.headers.get("content-type") == "application/json"


def test_post_empty(server):
    a = echo(server, "POST", "/echo", data=b"")
    assert a["method"] == "POST"
    assert a["body_length"] == 0
    assert a["content_length"] in ("0", "", None)
    assert a["eof_after_body"] is True


def test_post_small(server):
    body = b"hello=world&x=1"
    a = echo(server, "POST", "/echo", data=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert a["body_length"] == len(body)
    assert a["body_sha256"] == sha(body)
    assert a["content_type"] == "application/x-www-form-urlencoded"
    assert a["eof_after_body"] is True


def test_post_one_megabyte(server):
    body = os.urandom(1024 * 1024)
    a = echo(server, "POST", "/echo", data=body, headers={"Content-Type": "application/octet-stream"}, timeout=30)
    assert a["content_length"] == str(len(body))
    assert a["body_length"] == len(body)
    assert a["body_sha256"] == sha(body)
    assert a["eof_after_body"] is True


def test_post_chunked(server):
    parts = [b"first chunk\n", os.urandom(70_000), b"", b"last\n"]

    def gen():
        for p in parts:
            if p:
                yield p

    a = echo(server, "POST", "/echo", data=gen(), headers={"Content-Type": "application/octet-stream"}, timeout=30)
    body = b"".join(parts)
    assert "HTTP_TRANSFER_ENCODING" not in a["headers"] or a["headers"]["HTTP_TRANSFER_ENCODING"] == "chunked"
    assert a["body_length"] == len(body)
    assert a["body_sha256"] == sha(body)
    assert a["eof_after_body"] is True


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_methods_with_body(server, method):
    body = f"{method} body".encode()
    a = echo(server, method, "/echo/thing?v=1", data=body)
    assert a["method"] == method
    assert a["query_string"] == "v=1"
    assert a["body_sha256"] == sha(body)


@pytest.mark.parametrize("method", ["DELETE", "OPTIONS"])
def test_methods_without_body(server, method):
    a = echo(server, method, "/echo")
    assert a["method"] == method
    assert a["body_length"] == 0


# --- wsgi.input -----------------------------------------------------------

LINES = b"first line\nsecond\n\nfourth line is longer than the rest\nno newline at end"


@pytest.mark.parametrize("size", ["1", "7", "65536"])
def test_input_read_n(server, size):
    a = echo(server, "POST", "/echo", data=LINES, headers={"X-Read-Mode": "read", "X-Read-Size": size})
    assert a["body_sha256"] == sha(LINES)
    assert all(n <= int(size) for n in a["pieces"])


@pytest.mark.parametrize("mode", ["readline", "readlines", "iter"])
def test_input_lines(server, mode):
    a = echo(server, "POST", "/echo", data=LINES, headers={"X-Read-Mode": mode})
    assert a["body_sha256"] == sha(LINES)
    assert a["pieces"] == [len(line) for line in LINES.splitlines(keepends=True)]


def test_input_readline_with_size_hint(server):
    a = echo(server, "POST", "/echo", data=LINES, headers={"X-Read-Mode": "readline-hint"})
    assert a["body_sha256"] == sha(LINES)
    assert all(n <= 5 for n in a["pieces"])


@pytest.mark.parametrize("mode", ["readline", "iter"])
def test_input_lines_chunked(server, mode):
    def gen():
        yield LINES[:13]
        yield LINES[13:]

    a = echo(server, "POST", "/echo", data=gen(), headers={"X-Read-Mode": mode})
    assert a["body_sha256"] == sha(LINES)
    assert a["pieces"] == [len(line) for line in LINES.splitlines(keepends=True)]


# --- start_response and the response iterable -----------------------------

def test_write_callable(server):
    r = server.get("/write")
    assert r.status_code == 200, r.text[:500]
    assert r.content == b"written-returned"


def test_start_response_exc_info_replaces_headers(server):
    r = server.get("/exc-info")
    assert r.status_code == 503, r.text[:500]
    assert r.headers.get("x-replaced") == "yes"
    assert r.content == b"replaced"
    assert "x-tidepool-error" not in r.headers  # the app's own response, not a host error


def test_close_is_always_called(server):
    token = f"close-{time.time_ns()}"
    r = server.get(f"/close?{token}")
    assert r.status_code == 200, r.text[:500]
    assert r.content == b"one-two-three"
    log = server.project / "closed.log"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if log.exists() and token in log.read_text().split():
            return
        time.sleep(0.05)
    pytest.fail("the response iterable's close() was not called")


def test_generator_response(server):
    r = server.get("/generator")
    assert r.status_code == 200, r.text[:500]
    assert r.content == b"part0;part1;part2;"


def test_204_empty(server):
    r = server.get("/empty")
    assert r.status_code == 204
    assert r.content == b""


def test_repeated_response_headers(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", "/set-cookies")
        r = conn.getresponse()
        r.read()
        cookies = [v for k, v in r.getheaders() if k.lower() == "set-cookie"]
        custom = r.getheader("X-Custom")
    finally:
        conn.close()
    assert r.status == 200
    assert cookies == ["a=1; Path=/", "b=2; Path=/"]
    assert custom == "custom value"


def test_date_header_once(server):
    """The front adds Date unless the app set its own: never two."""
    for path, own in (("/set-cookies", None), ("/own-date", "Tue, 01 Jan 2030 00:00:00 GMT")):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            dates = [v for k, v in r.getheaders() if k.lower() == "date"]
        finally:
            conn.close()
        assert len(dates) == 1, (path, dates)
        if own:
            assert dates == [own]
        else:
            assert dates[0].endswith(" GMT")


def test_large_response(server):
    size = 3 * 1024 * 1024 + 17
    r = server.get(f"/big?{size}", timeout=30)
    assert r.status_code == 200
    assert len(r.content) == size
    block = bytes(range(256)) * 256
    expected = block * (size // len(block)) + block[: size % len(block)]
    assert r.content == expected
