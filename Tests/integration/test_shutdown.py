"""Graceful shutdown (issue 7, item 6), beyond test_lifecycle.py: SIGTERM with
requests in flight AND queued finishes all of them and exits 0 with nothing
left; a second signal forces the exit at once."""

import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

pytestmark = pytest.mark.timeout(60)


def test_sigterm_finishes_in_flight_and_queued(tidepool):
    server = tidepool("hardened", instances=1, threads=2, start="fork")
    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(requests.get, server.url("/sleep?1"), timeout=20) for _ in range(6)]
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            status = server.status()
            if status["queued"] == 4 and status["inFlight"] == 2:
                break
            time.sleep(0.02)
        assert (status["queued"], status["inFlight"]) == (4, 2), status
        server.proc.send_signal(signal.SIGTERM)
        results = [(f.result().status_code, f.result().text) for f in futures]
    assert [code for code, _ in results] == [200] * 6, results
    assert server.proc.wait(15) == 0
    server.stop()  # nothing left running


def test_second_signal_forces_exit(tidepool):
    server = tidepool("hardened", instances=1, threads=2, start="fork")
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(requests.get, server.url("/sleep?30"), timeout=40) for _ in range(2)]
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and server.status()["inFlight"] < 2:
            time.sleep(0.02)
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        assert server.proc.poll() is None, "exited before its requests finished"
        t0 = time.monotonic()
        server.proc.send_signal(signal.SIGTERM)
        code = server.proc.wait(10)
        forced_after = time.monotonic() - t0
        codes = [f.result().status_code if not f.exception() else "error" for f in futures]
    assert code == 1, code
    assert forced_after < 5, f"second signal took {forced_after:.1f}s"
    assert all(c != 200 for c in codes), codes
    server.stop(expect_exit_zero=False)  # checks that no child is left
