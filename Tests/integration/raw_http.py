"""Raw HTTP over plain sockets for the bad-request tests (test_bad_http.py,
test_request_stream.py): the server they share the shape of, and helpers that
send bytes and split what comes back."""

import socket
import time

from conftest import Tidepool, prepare_project


def start_guarded_server(tmp_path_factory):
    """The hardened fixture on 1 instance x 1 thread with short client deadlines
    (clientTimeout 2 s, headerTimeout and bodyTimeout 1.5 s); yields it, then stops it."""
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


def assert_closed(sock, timeout=3.0):
    """The server closed the connection: the next read is EOF (or a reset)."""
    sock.settimeout(timeout)
    try:
        assert sock.recv(100) == b""
    except ConnectionResetError:
        pass
