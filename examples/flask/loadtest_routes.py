"""Tidepool load-test routes. NOT part of Vercel's Flask template.

They give the load tests and benchmarks one route per kind of work:

- ``/api/hello``                       tiny text response
- ``/api/sleep?ms=50``                 I/O-bound: ``time.sleep`` (releases the GIL)
- ``/api/cpu?ms=20``                   CPU-bound: busy loop for that much CPU time
- ``/api/stream?chunks=5&delay_ms=100`` a generator yielding chunks with pauses
"""

import time

from flask import Blueprint, Response, request

loadtest = Blueprint("loadtest", __name__, url_prefix="/api")

MAX_MS = 60_000
MAX_CHUNKS = 10_000


def _int_arg(name: str, default: int, upper: int) -> int:
    try:
        value = int(request.args.get(name, default))
    except ValueError:
        value = default
    return max(0, min(value, upper))


@loadtest.get("/hello")
def hello():
    return Response("Hello from Tidepool\n", mimetype="text/plain")


@loadtest.get("/sleep")
def sleep():
    ms = _int_arg("ms", 50, MAX_MS)
    time.sleep(ms / 1000)
    return {"slept_ms": ms}


@loadtest.get("/cpu")
def cpu():
    ms = _int_arg("ms", 20, MAX_MS)
    deadline = time.thread_time() + ms / 1000
    spins = 0
    while time.thread_time() < deadline:
        for _ in range(1000):
            spins += 1
    return {"cpu_ms": ms, "spins": spins}


@loadtest.get("/stream")
def stream():
    chunks = _int_arg("chunks", 5, MAX_CHUNKS)
    delay = _int_arg("delay_ms", 100, MAX_MS) / 1000

    def generate():
        for i in range(chunks):
            if i:
                time.sleep(delay)
            yield f"chunk {i}\n"

    return Response(generate(), mimetype="text/plain")
