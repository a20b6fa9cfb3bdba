"""The template keeps one child forked ahead of demand (a spare, see
Sources/TidepoolInstance/SpareChild.swift): an instance start hands the spare
its channel instead of forking, a new spare follows, and a spare never
outlives its template."""

import os
import signal

import requests

from waiting import wait_for


def live_children(pid: int) -> set[int]:
    found = set()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                raw = f.read().decode("latin-1")
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2:].split()
        if fields[0] not in ("Z", "X") and int(fields[1]) == pid:
            found.add(int(name))
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode("latin-1")
    except OSError:
        return False
    return raw[raw.rindex(")") + 2:].split()[0] not in ("Z", "X")


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
    assert wait_for(lambda: not alive(spare), 5), f"spare {spare} outlived its killed template {template}"
    # The host restarts the template, which makes a new spare.
    assert wait_for(lambda: (p := server.status().get("templatePid")) and p != template, 15), server.status()
    assert wait_for(lambda: len(spares(server)[1]) == 1, 10), spares(server)
