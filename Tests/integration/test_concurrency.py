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


@pytest.mark.parametrize("mode", ["fork", "spawn"])
def test_a_request_arriving_while_the_only_busy_handler_sleeps_is_served_at_once(tidepool, mode):
    """An idle instance gets a long sleep (its handler releases the GIL and
    reads nothing meanwhile), then a second request: the main thread's watch,
    woken by the timer the sleep's turn armed, takes over reading within
    milliseconds and a standby handler answers, long before the sleep ends
    (and before the next stats, up to 400 ms away, would wake the watch:
    without the timer, most rounds wait for them)."""
    server = tidepool("example", instances=1, threads=4, start=mode)
    assert server.get("/api/hello").status_code == 200  # warm: the first call may import lazily

    def round_trip():
        time.sleep(0.5)  # idle: the watch sleeps until the next stats
        with ThreadPoolExecutor(1) as pool:
            slow = pool.submit(lambda: requests.get(server.url("/api/sleep?ms=400"), timeout=10).status_code)
            time.sleep(0.05)  # the sleep has started; the next stats are most likely still ahead
            start = time.monotonic()
            r = requests.get(server.url("/api/hello"), timeout=10)
            elapsed = time.monotonic() - start
            assert r.status_code == 200 and slow.result() == 200
        return elapsed

    round_trip()  # the first round after start-up is not the idle case
    waits = [round_trip() for _ in range(4)]
    assert max(waits) < 0.15, f"the second request waited {max(waits):.3f}s behind the sleeping handler: {waits}"
