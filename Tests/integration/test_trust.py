"""Trust boundary (issue 7, item 5): headers only the front may set never
come from the client; X-Forwarded-For is the real peer unless the peer is a
configured trusted proxy.

Scoped out here: admin-port binding (the metrics branch adds --admin-port),
statics outside public/ (test_example_app.py), running instances as an
unprivileged user with rlimits when started as root (not implemented)."""

import json

import pytest
import requests

from conftest import Tidepool, prepare_project, raw_request

pytestmark = pytest.mark.timeout(60)

SPOOFED = {
    "X-Tidepool-Internal": "spoofed",
    "x-tidepool-request-id": "spoofed",
    "X-Vercel-Internal-Bot": "spoofed",
    "x-vercel-internal-ingress": "spoofed",
    "X-Real-IP": "6.6.6.6",
    "X-Forwarded-Host": "evil.example",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-For": "6.6.6.6",
}


def start(tmp_path, config_text=""):
    project = prepare_project("hardened", tmp_path)
    config = tmp_path / "tidepool.toml"
    config.write_text(config_text)
    return Tidepool(project, tmp_path / "logs", instances=1, threads=2,
                    extra_args=["--config", str(config)]).wait_ready()


def test_internal_headers_never_reach_the_app(tmp_path):
    server = start(tmp_path)
    try:
        seen = server.get("/headers", headers=SPOOFED).json()
        leaked = {k: v for k, v in seen.items() if "spoofed" in str(v) or "6.6.6.6" in str(v) or "evil" in str(v)}
        assert leaked == {}, leaked
        assert not [k for k in seen if k.startswith(("HTTP_X_TIDEPOOL_", "HTTP_X_VERCEL_INTERNAL_"))], seen
        assert seen["HTTP_X_FORWARDED_FOR"] == "127.0.0.1"
        assert seen["HTTP_X_REAL_IP"] == "127.0.0.1"
        assert seen["HTTP_X_FORWARDED_PROTO"] == "http"
        assert seen["REMOTE_ADDR"] == "127.0.0.1"
    finally:
        server.stop()


def test_forwarded_for_is_appended_for_trusted_proxy(tmp_path):
    server = start(tmp_path, 'trustedProxies = ["127.0.0.0/8", "::1"]\n')
    try:
        seen = server.get("/headers", headers={"X-Forwarded-For": "203.0.113.7, 10.1.1.1"}).json()
        assert seen["HTTP_X_FORWARDED_FOR"] == "203.0.113.7, 10.1.1.1, 127.0.0.1"
        # Still no internal headers from a trusted proxy.
        seen = server.get("/headers", headers={"X-Tidepool-Internal": "spoofed"}).json()
        assert "HTTP_X_TIDEPOOL_INTERNAL" not in seen
        assert seen["HTTP_X_FORWARDED_FOR"] == "127.0.0.1"
    finally:
        server.stop()


def test_forwarded_for_replaced_for_untrusted_peer(tmp_path):
    server = start(tmp_path, 'trustedProxies = ["10.0.0.0/8"]\n')
    try:
        seen = server.get("/headers", headers={"X-Forwarded-For": "203.0.113.7"}).json()
        assert seen["HTTP_X_FORWARDED_FOR"] == "127.0.0.1"
    finally:
        server.stop()


def test_invalid_utf8_forwarded_for_and_host_from_a_trusted_proxy(tmp_path):
    """A trusted proxy's X-Forwarded-For is repaired as UTF-8 into ours, and
    the Host value goes out twice more: a head just under the 32 KiB limit made
    of invalid bytes must still be forwarded, and the host keep serving."""
    server = start(tmp_path, 'trustedProxies = ["127.0.0.0/8", "::1"]\n')
    try:
        request = (b"GET /headers HTTP/1.1\r\nHost: " + b"\xff" * 15_000 + b"\r\nX-Forwarded-For: "
                   + b"\xfe" * 16_000 + b"\r\nConnection: close\r\n\r\n")
        status, _, body = raw_request(server.port, request)
        assert status == 200
        seen = json.loads(body)
        assert seen["HTTP_X_FORWARDED_FOR"].endswith(", 127.0.0.1")
        assert server.get("/headers").status_code == 200
    finally:
        server.stop()
