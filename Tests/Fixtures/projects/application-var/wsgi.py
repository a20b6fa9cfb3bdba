"""WSGI app bound to `application`, as mod_wsgi expects."""
from flask import Flask


def make():
    app = Flask(__name__)  # local, not the module-level binding
    return app


application = make()
