"""Fixture for memory recycling (issue 7, item 3): `/grow?mb=N` keeps N MiB
alive in the instance; `/sleep?s=S` holds a slot; every route answers the pid."""

import os
import time

HELD = []


def app(environ, start_response):
    path = environ["PATH_INFO"]
    params = dict(p.split("=", 1) for p in environ.get("QUERY_STRING", "").split("&") if "=" in p)
    if path == "/grow":
        # Touch every page so the memory is resident, not just reserved.
        HELD.append(bytearray(b"x" * (int(params.get("mb", "1")) << 20)))
    elif path == "/sleep":
        time.sleep(float(params.get("s", "1")))
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
