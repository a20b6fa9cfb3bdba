"""Echo app for the statics, vercel.json and forwarding-header tests: every
path answers JSON describing the request exactly as the app received it."""

from flask import Flask, jsonify, request

app = Flask(__name__)
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@app.route("/", defaults={"rest": ""}, methods=METHODS)
@app.route("/<path:rest>", methods=METHODS)
def echo(rest):
    response = jsonify(
        app="echo",
        method=request.method,
        path=request.path,
        path_info=request.environ.get("PATH_INFO"),
        query=request.query_string.decode("latin-1"),
        request_uri=request.environ.get("REQUEST_URI") or request.environ.get("RAW_URI"),
        remote_addr=request.remote_addr,
        headers={name.lower(): value for name, value in request.headers.items()},
    )
    if request.args.get("set_frame_options"):
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response
