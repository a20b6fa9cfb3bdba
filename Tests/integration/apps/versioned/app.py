"""Redeploy fixture (issue 7 item 7, issue 3 item 8): every response names
the code's VERSION and the pid that served it. The tests rewrite the VERSION
line (or break the file) and redeploy.

GET /        -> "<VERSION> <pid>"
GET /slow?S  -> sleeps S seconds (default 1), then the same
"""

import os
import time

VERSION = "v1"


def app(environ, start_response):
    if environ.get("PATH_INFO") == "/slow":
        time.sleep(float(environ.get("QUERY_STRING") or 1))
    body = f"{VERSION} {os.getpid()}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
