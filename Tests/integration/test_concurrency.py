"""In-function concurrency: one instance with 8 handler threads holds 8
requests at once. This checks overlap, not speed: the margins are generous."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("mode", ["fork", "spawn"])
def test_one_instance_eight_threads_overlap_sleeps(tidepool, mode):
    server = tidepool("example", instances=1, threads=8, start=mode)
    assert server.get("/api/hello").status_code == 200  # warm: the first call may import lazily

    def call(_):
        t0 = time.monotonic()
        with requests.Session() as s:
            r = s.get(server.url("/api/sleep?ms=200"), timeout=10)
        return r.status_code, time.monotonic() - t0

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: requests.get(server.url("/_tidepool/health"), timeout=5), range(8)))  # warm threads
        start = time.monotonic()
        results = list(pool.map(call, range(8)))
        total = time.monotonic() - start
    assert [code for code, _ in results] == [200] * 8
    assert total >= 0.2
    # Serial would be 8 x 200 ms = 1.6 s. Concurrent is ~0.2 s; 0.8 s is generous.
    assert total < 0.8, f"8 concurrent 200 ms sleeps took {total:.3f}s: requests did not overlap"
