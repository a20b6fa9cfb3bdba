"""Stopping: SIGTERM drains in-flight requests, SIGINT (Ctrl-C) stops
everything, and a host killed with SIGKILL leaves no orphans (PR_SET_PDEATHSIG)."""

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from conftest import _alive, _reap

pytestmark = pytest.mark.timeout(60)


def wait_gone(pids: dict, timeout: float) -> list:
    deadline = time.monotonic() + timeout
    while True:
        for pid in pids:
            _reap(pid)
        left = [pid for pid, start in pids.items() if _alive(pid, start)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


@pytest.mark.parametrize("mode", ["fork", "spawn"])
def test_sigterm_finishes_in_flight_requests(tidepool, mode):
    server = tidepool("example", instances=1, threads=4, start=mode)
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(requests.get, server.url("/api/sleep?ms=1000"), timeout=15) for _ in range(2)]
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and sum(x["inFlight"] for x in server.instance_list()) < 2:
            time.sleep(0.02)
        server.proc.send_signal(signal.SIGTERM)
        codes = [f.result().status_code for f in futures]
    assert codes == [200, 200]
    assert server.proc.wait(10) == 0  # (a second SIGTERM would mean "kill now": don't send one)
    server.stop()  # checks that nothing is left


@pytest.mark.parametrize("mode", ["fork", "spawn"])
def test_sigint_stops_everything(tidepool, mode):
    server = tidepool("example", instances=2, start=mode)
    server._remember_tree()
    children = dict(server.known)
    assert len(children) >= 2, children
    server.proc.send_signal(signal.SIGINT)
    code = server.proc.wait(10)
    assert code in (0, 130, -signal.SIGINT), code
    assert wait_gone(children, 3) == [], "children left after Ctrl-C"
    server.stop(expect_exit_zero=False)


@pytest.mark.parametrize("mode", ["fork", "spawn"])
def test_host_killed_leaves_no_orphans(tidepool, mode):
    server = tidepool("example", instances=2, start=mode)
    server._remember_tree()
    children = dict(server.known)
    assert len(children) >= 2, children
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait(5)
    left = wait_gone(children, 5)
    assert left == [], f"children outlived a SIGKILLed host: {left}"
    server.stop(expect_exit_zero=False)
