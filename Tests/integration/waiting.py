"""Polling for a condition the host reaches asynchronously (a replacement
instance, a drained pool), bounded in time so a broken promise fails the test
instead of hanging it."""

import time

import pytest


def wait_for(predicate, timeout, interval=0.05):
    """Calls `predicate` until it returns something truthy or `timeout` seconds
    pass; returns its last value (falsy on timeout), so `assert wait_for(...)`
    shows what was seen."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def wait_until(predicate, timeout, what, interval=0.05):
    """`wait_for` that fails the test, naming `what` it waited for, on timeout;
    returns the truthy value otherwise."""
    value = wait_for(predicate, timeout, interval)
    if not value:
        pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
    return value
