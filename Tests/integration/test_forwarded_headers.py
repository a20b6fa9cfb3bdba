"""The Vercel request headers an app may read (issue 3, item 9): the front
sets x-forwarded-for / -proto / -host and x-real-ip itself, and drops the
client's copies of those and of internal headers."""

import pytest

from conftest import json_of, module_server, raw_request

server = module_server("statics", instances=1)

pytestmark = pytest.mark.timeout(60)


def test_forwarding_headers_are_set_by_the_front(server):
    data = json_of(server.get("/echo"))
    headers = data["headers"]
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-real-ip"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == f"127.0.0.1:{server.port}"
    assert data["remote_addr"] == "127.0.0.1"


def test_client_copies_are_dropped(server):
    data = json_of(server.get("/echo", headers={
        "X-Forwarded-For": "6.6.6.6",
        "X-Real-IP": "6.6.6.6",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "evil.example",
        "X-Tidepool-Internal": "forged",
        "X-Vercel-Internal-Thing": "forged",
        "X-Custom": "kept",
    }))
    headers = data["headers"]
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-real-ip"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-host"] == f"127.0.0.1:{server.port}"
    assert not any(name.startswith(("x-tidepool-", "x-vercel-internal-")) for name in headers)
    assert headers["x-custom"] == "kept"


def test_repeated_and_oddly_cased_client_copies_are_dropped(server):
    request = (b"GET /echo HTTP/1.1\r\nHost: h.example\r\nx-FORWARDED-for: 1.1.1.1\r\n"
               b"X-Forwarded-For: 2.2.2.2\r\nx-tidepool-a: 1\r\nConnection: close\r\n\r\n")
    status, _, body = raw_request(server.port, request)
    assert status == 200
    import json
    headers = json.loads(body)["headers"]
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-host"] == "h.example"
    assert "x-tidepool-a" not in headers


def test_a_host_header_of_invalid_utf8_near_the_head_limit_is_forwarded(server):
    """SERVER_NAME is the Host header repaired as UTF-8, where each invalid
    byte becomes three (U+FFFD), and the Host value is also sent again as
    X-Forwarded-Host: the frame sent to the instance is several times the
    head. The front sizes its buffer for that; this head, just under the
    32 KiB limit, once made it overrun and stop the host."""
    host = b"\xff" * 32_000
    request = b"GET /echo HTTP/1.1\r\nHost: " + host + b"\r\nConnection: close\r\n\r\n"
    status, _, body = raw_request(server.port, request)
    assert status == 200
    import json
    data = json.loads(body)
    assert len(data["headers"]["x-forwarded-host"]) == len(host)
    assert server.get("/echo").status_code == 200  # the host is still serving
