"""Limits (issue 7, item 3): with `maxConnections` open, a new connection is
refused at once (503 then close) while the open ones keep being served, and
closing one makes room again."""

import gc
import socket
import time

import pytest

from conftest import Tidepool, prepare_project

pytestmark = pytest.mark.timeout(60)

LIMIT = 4


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("connections")
    project = prepare_project("hardened", tmp)
    config = tmp / "tidepool.toml"
    config.write_text(f"maxConnections = {LIMIT}\n")
    s = Tidepool(project, tmp / "logs", instances=1, threads=4, extra_args=["--config", str(config)])
    s.wait_ready()
    yield s
    s.stop()


def read_response(sock: socket.socket, timeout: float = 5) -> bytes:
    """One response with a Content-Length, or whatever arrived before EOF."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def get(sock: socket.socket, path: str = "/pid") -> bytes:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return read_response(sock)


def open_served(port: int) -> socket.socket:
    """A keep-alive connection that got a 200. Retries briefly: the health
    checks' connections may not be uncounted yet."""
    deadline = time.monotonic() + 10
    while True:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        try:
            response = get(sock)
        except OSError:
            response = b""
        if response.startswith(b"HTTP/1.1 200"):
            return sock
        sock.close()
        assert time.monotonic() < deadline, f"no connection accepted: {response[:200]!r}"
        time.sleep(0.1)


def assert_refused(port: int) -> None:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        try:
            data = read_response(sock)
            if data:
                assert data.startswith(b"HTTP/1.1 503"), data[:200]
                assert b"FUNCTION_THROTTLED" in data
                assert sock.recv(1) == b"", "the refused connection stayed open"
        except ConnectionResetError:
            pass  # closed at once is also a clean refusal
    assert time.monotonic() - started < 4, "refusal was not prompt"


def settle() -> None:
    """Let this process drop sockets it no longer uses (requests can leave a
    keep-alive connection in a reference cycle) and the server see them close."""
    gc.collect()
    time.sleep(0.3)


def test_connections_over_the_limit_are_refused_and_room_comes_back(server):
    settle()
    held = [open_served(server.port) for _ in range(LIMIT)]
    try:
        for _ in range(3):
            assert_refused(server.port)
        # The open connections are untouched and still served.
        for sock in held:
            assert get(sock).startswith(b"HTTP/1.1 200")
        # Closing one makes room for exactly one more.
        held.pop().close()
        held.append(open_served(server.port))
        assert_refused(server.port)
        for sock in held:
            assert get(sock).startswith(b"HTTP/1.1 200")
    finally:
        for sock in held:
            sock.close()
    # All closed: the whole budget is free again.
    settle()
    again = [open_served(server.port) for _ in range(LIMIT)]
    for sock in again:
        sock.close()
    assert "refused a connection" in server.stderr()


def test_refused_connections_leave_served_requests_alone(server):
    """A request in flight on a counted connection completes while others are refused."""
    settle()
    held = [open_served(server.port) for _ in range(LIMIT)]
    try:
        held[0].sendall(b"GET /sleep?0.5 HTTP/1.1\r\nHost: x\r\n\r\n")
        assert_refused(server.port)
        assert read_response(held[0]).startswith(b"HTTP/1.1 200")
    finally:
        for sock in held:
            sock.close()
