"""The least a server can add to the example app: a blocking loop that reads
one request, calls the app in-process and writes the response, one
connection at a time. Not a server to use (no body, no pipelining, no
concurrency): the `latency` goal of bench-goals measures it beside Tidepool
as the floor of what any front adds on this machine.

  floor_server.py --tcp PORT     one process: the client talks to it directly
  floor_server.py --unix PATH    the backend of floor_proxy.c: two processes,
                                 the design Tidepool must have (a front and an
                                 instance), with nothing in either but the hop
"""

import io
import os
import signal
import socket
import sys

sys.path.insert(0, os.getcwd())
from main import app  # noqa: E402  (run from the app's directory)

BASE = {"SCRIPT_NAME": "", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr,
        "wsgi.multithread": False, "wsgi.multiprocess": True, "wsgi.run_once": False}


def respond(head):
    method, target = head.split(b" ", 2)[:2]
    path, _, query = target.decode("latin-1").partition("?")
    env = dict(BASE, REQUEST_METHOD=method.decode("latin-1"), PATH_INFO=path, QUERY_STRING=query)
    env["wsgi.input"] = io.BytesIO(b"")
    started = []
    body = app(env, lambda status, headers, exc_info=None: started.extend((status, headers)))
    try:
        data = b"".join(body)
    finally:
        getattr(body, "close", lambda: None)()
    status, headers = started
    lines = [f"HTTP/1.1 {status}"] + [f"{k}: {v}" for k, v in headers if k.lower() != "content-length"]
    lines.append(f"Content-Length: {len(data)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data


def serve(conn):
    pending = b""
    while True:
        data = conn.recv(65536)
        if not data:
            return
        pending += data
        while b"\r\n\r\n" in pending:
            head, pending = pending.split(b"\r\n\r\n", 1)
            conn.sendall(respond(head))


def main():
    kind, where = sys.argv[1], sys.argv[2]
    if kind == "--tcp":
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", int(where)))
    else:
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(where)
        # bench-goals stops it with SIGTERM: leave no socket file behind.
        signal.signal(signal.SIGTERM, lambda *_: (os.unlink(where), os._exit(0)))
    listener.listen(16)
    while True:
        conn, _ = listener.accept()
        if kind == "--tcp":
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            serve(conn)
        except OSError:
            pass
        conn.close()


main()
