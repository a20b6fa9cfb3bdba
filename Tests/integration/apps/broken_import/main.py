"""A project whose import fails: `tidepool serve` must exit non-zero quickly
and name the exception on stderr."""
from flask import Flask

import tidepool_fixture_module_that_does_not_exist  # noqa: F401  (ModuleNotFoundError)

app = Flask(__name__)
