"""Per-instance memory (issue 7, item 3): an instance whose RSS passes
`instanceMemoryMB` is recycled — it takes no new request, finishes what it
holds (never cut mid-request), stops, and a replacement serves from then on."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from waiting import wait_for

pytestmark = pytest.mark.timeout(90)


@pytest.mark.parametrize("mode", ["fork", "spawn"])
def test_instance_over_its_memory_is_recycled_after_in_flight_requests(tidepool, tmp_path, mode):
    config = tmp_path / "memory.toml"
    config.write_text("instanceMemoryMB = 120\n")
    server = tidepool("memory_hog", instances=None, start=mode, extra_args=[
        "--config", str(config), "--min-instances", "1", "--max-instances", "2"])
    first_pid = int(requests.get(server.url("/"), timeout=10).text)

    with ThreadPoolExecutor(2) as pool:
        # A slow request is on the instance when it goes over its memory size.
        slow = pool.submit(requests.get, server.url("/sleep?s=2"), timeout=30)
        assert wait_for(lambda: sum(x["inFlight"] for x in server.instance_list()) == 1, 5)
        grow = requests.get(server.url("/grow?mb=160"), timeout=30)
        assert grow.status_code == 200 and int(grow.text) == first_pid, grow.text

        # The replacement serves new requests while the old one drains.
        replaced = wait_for(lambda: [x for x in server.instance_list()
                                     if x["pid"] != first_pid and x.get("state") == "ready"], 15)
        assert replaced, server.instance_list()
        assert int(requests.get(server.url("/"), timeout=10).text) != first_pid

        # The request it held was not cut.
        response = slow.result()
        assert response.status_code == 200 and int(response.text) == first_pid, response.text

    assert wait_for(lambda: first_pid not in {x["pid"] for x in server.instance_list()}, 10), server.instance_list()
    assert "memory" in server.stderr(), "the scale-down reason is logged"
