"""A project that raises its own exception at import time."""
from flask import Flask


class BrokenAtImportError(RuntimeError):
    pass


app = Flask(__name__)
raise BrokenAtImportError("this project fails while it is imported")
