"""The template keeps one child forked ahead of demand (a spare, see
Sources/TidepoolInstance/SpareChild.swift): an instance start hands the spare
its channel instead of forking, a new spare follows, and a spare never
outlives its template."""

import os
import signal

import requests

from processes import _alive, live_children
from waiting import wait_for


def spares(server) -> tuple[int, list[int]]:
    """(template pid, its children that are not instances)."""
    status = server.status()
    template = status["templatePid"]
    instances = {item["pid"] for item in status["instances"]}
    return template, sorted(live_children(template) - instances)


def test_a_start_uses_the_spare_and_a_new_one_follows(tidepool):
    server = tidepool("hardened", instances=2, threads=4, start="fork")
    assert wait_for(lambda: len(spares(server)[1]) == 1, 10), spares(server)
    _, [spare] = spares(server)
    victim = server.instance_list()[0]["pid"]
    os.kill(victim, signal.SIGKILL)
    # The pinned pool refills: the replacement is the spare, not a new fork.
    assert wait_for(lambda: spare in {i["pid"] for i in server.instance_list()}, 15), server.instance_list()
    assert wait_for(lambda: len(spares(server)[1]) == 1 and spares(server)[1] != [spare], 10), spares(server)
    assert [requests.get(server.url("/pid"), timeout=10).status_code for _ in range(4)] == [200] * 4


def test_the_spare_exits_with_its_template(tidepool):
    server = tidepool("hardened", instances=1, threads=2, start="fork")
    assert wait_for(lambda: len(spares(server)[1]) == 1, 10), spares(server)
    template, [spare] = spares(server)
    os.kill(template, signal.SIGKILL)
    assert wait_for(lambda: not _alive(spare), 5), f"spare {spare} outlived its killed template {template}"
    # The host restarts the template, which makes a new spare.
    assert wait_for(lambda: (p := server.status().get("templatePid")) and p != template, 15), server.status()
    assert wait_for(lambda: len(spares(server)[1]) == 1, 10), spares(server)
