"""Broken apps (issue 7, item 2): each invalid WSGI response is answered 500
FUNCTION_INVOCATION_FAILED, the reason is in the server log, and the same
instance (same pid) keeps serving. Cases already covered by test_failures.py
(raise, str body, no start_response, bad status, non-iterable on the
validator-wrapped app) are repeated here only as part of the full list on a
plain app, where no validator catches them first."""

import time

import pytest

from conftest import launch

pytestmark = pytest.mark.timeout(60)

# path -> a fragment the server log must contain (the reason, not just "500").
CASES = {
    "/broken/not-iterable": "iterable",
    "/broken/str-chunks": "bytes",
    "/broken/no-start-response": "start_response",
    "/broken/start-twice": "start_response",
    "/broken/header-newline": "header",
    "/broken/bad-status": "status",
    "/broken/too-long": "Content-Length",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = launch("hardened", tmp_path_factory.mktemp("broken"), instances=1, threads=2)
    yield s
    s.stop()


def wait_log(server, fragment, since, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tail = server.stderr()[since:]
        if fragment in tail:
            return tail
        time.sleep(0.05)
    return server.stderr()[since:]


@pytest.mark.parametrize("path", list(CASES))
def test_broken_response_is_500_and_instance_survives(server, path):
    pid_before = server.get("/pid").text
    log_start = len(server.stderr())
    r = server.get(path)
    assert r.status_code == 500, (path, r.status_code, r.headers, r.content[:200])
    assert r.headers.get("x-tidepool-error") == "FUNCTION_INVOCATION_FAILED", r.headers
    assert "evil" not in r.headers.get("set-cookie", ""), "a header value with CRLF injected a header"
    tail = wait_log(server, CASES[path], log_start)
    assert CASES[path].lower() in tail.lower(), f"no reason for {path} in the log:\n{tail[-2000:]}"
    # Same instance, still serving.
    assert server.get("/pid").text == pid_before
    assert [x["pid"] for x in server.instance_list()] == [int(pid_before)]
