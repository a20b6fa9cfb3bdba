"""Zero-downtime redeploy (issue 7 item 7) and `tidepool dev` (issue 3 item 8).

SIGHUP under continuous concurrent load (with slow requests in flight at the
moment of the signal) swaps v1 for v2 with zero failed requests, and the old
instances are gone afterwards; a broken v2 leaves v1 serving with the error
logged, and a later good v3 deploys. `tidepool dev` redeploys on a file change
while a slow request started before it still completes on v1.

Versions differ in length on purpose: CPython trusts a cached .pyc whose
source has the same size and mtime second (see the report's note).
"""

import json
import re
import signal
import threading
import time
from collections import Counter

import pytest
import requests

from conftest import _alive
from processes import group_alive
from waiting import wait_until

pytestmark = pytest.mark.timeout(120)


def set_version(server, version: str) -> None:
    path = server.project / "app.py"
    text = path.read_text()
    text = re.sub(r'^VERSION = .*$', f'VERSION = "{version}"', text, flags=re.M)
    path.write_text(text)


def break_app(server) -> None:
    path = server.project / "app.py"
    path.write_text(path.read_text() + "\ndef broken(:\n")


class Load:
    """`clients` threads looping requests until stopped; every outcome kept in order."""

    def __init__(self, server, clients: int = 8, slow_clients: int = 2, slow_seconds: float = 1.0):
        self.server = server
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.results: list[tuple[float, str, int | str, str]] = []  # (t, path, status|error, body)
        self.threads = [
            threading.Thread(target=self._run, args=(f"/slow?{slow_seconds}" if i < slow_clients else "/",), daemon=True)
            for i in range(clients)
        ]

    def _run(self, path: str) -> None:
        session = requests.Session()
        while not self.stop_event.is_set():
            t = time.monotonic()
            try:
                r = session.get(self.server.url(path), timeout=30)
                outcome, body = r.status_code, r.text
            except requests.RequestException as e:
                outcome, body = type(e).__name__, str(e)
            with self.lock:
                self.results.append((t, path, outcome, body))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        for t in self.threads:
            t.join(40)

    def versions_since(self, t0: float) -> Counter:
        with self.lock:
            return Counter(body.split()[0] for t, _, status, body in self.results if t >= t0 and status == 200)



def pids_of(results, version: str) -> set[int]:
    return {int(body.split()[1]) for _, _, status, body in results if status == 200 and body.split()[0] == version}


@pytest.mark.parametrize("mode", ["fork", "spawn"])
def test_sighup_under_load_swaps_versions_with_zero_failures(tidepool, mode):
    server = tidepool("versioned", instances=2, threads=4, start=mode)
    with Load(server) as load:
        time.sleep(1.2)  # slow requests are mid-flight when the signal lands
        set_version(server, "v2-two")
        signalled = time.monotonic()
        server.proc.send_signal(signal.SIGHUP)
        # Keep loading until v2 has answered for a while.
        wait_until(lambda: load.versions_since(signalled).get("v2-two", 0) > 20, 30, "v2 responses")
        switched = time.monotonic()
        time.sleep(1.5)
    results = load.results
    failures = [(path, status, body[:200]) for _, path, status, body in results if status != 200]
    assert not failures, f"{len(failures)} of {len(results)} requests failed: {failures[:5]}"
    before = [body.split()[0] for t, _, _, body in results if t < signalled]
    assert before and set(before) == {"v1"}, Counter(before)
    # Requests sent well after the swap all get v2.
    late = [body.split()[0] for t, _, _, body in results if t > switched + 0.5]
    assert late and set(late) == {"v2-two"}, Counter(late)
    # Slow requests that were in flight at the signal finished on v1.
    assert any(path.startswith("/slow") and t < signalled and body.startswith("v1 ")
               for t, path, _, body in results)
    old_pids = pids_of(results, "v1")
    new_pids = pids_of(results, "v2-two")
    assert old_pids and new_pids and not (old_pids & new_pids)
    wait_until(lambda: not any(_alive(pid) for pid in old_pids), 10, f"old instances {old_pids} to exit")
    live = {item["pid"] for item in server.instance_list()}
    assert not (live & old_pids), (live, old_pids)
    log = server.stderr()
    assert "redeploy (SIGHUP) complete" in log, log[-3000:]
    print(f"{mode}: {len(results)} requests, 0 failed; v1 pids {sorted(old_pids)} -> v2 pids {sorted(new_pids)}")


def test_broken_version_keeps_the_old_one_serving_then_a_good_one_deploys(tidepool):
    server = tidepool("versioned", instances=1, threads=4, start="fork")
    break_app(server)
    with Load(server, clients=4, slow_clients=1, slow_seconds=0.3) as load:
        time.sleep(0.3)
        t0 = time.monotonic()
        server.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "redeploy failed" in server.stderr(), 30, "the failed redeploy in the log")
        time.sleep(0.5)
    failures = [(status, body[:200]) for _, _, status, body in load.results if status != 200]
    assert not failures, failures[:5]
    assert set(load.versions_since(t0)) == {"v1"}
    log = server.stderr()
    assert "SyntaxError" in log, log[-3000:]
    assert server.get("/").text.startswith("v1 ")

    # Fix it (a different version, so the source differs from the broken one).
    path = server.project / "app.py"
    path.write_text(path.read_text().replace("\ndef broken(:\n", "\n"))
    set_version(server, "v3-three")
    server.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: server.get("/").text.startswith("v3-three "), 30, "v3 to serve")
    wait_until(lambda: "complete" in server.stderr().split("redeploy failed")[-1], 10, "the redeploy to complete")


def test_dev_reloads_on_change_while_a_slow_request_finishes_on_the_old_version(tidepool):
    server = tidepool("versioned", instances=1, threads=4, start="fork", command="dev")
    slow: dict = {}

    def slow_request():
        try:
            r = requests.get(server.url("/slow?2"), timeout=30)
            slow["result"] = (r.status_code, r.text)
        except requests.RequestException as e:
            slow["result"] = (type(e).__name__, str(e))

    thread = threading.Thread(target=slow_request)
    thread.start()
    wait_until(lambda: server.status()["inFlight"] >= 1, 5, "the slow request to be in flight")
    set_version(server, "v2-two")
    seen = []

    def saw_v2():
        r = server.get("/")
        seen.append(r.status_code)
        return r.status_code == 200 and r.text.startswith("v2-two ")

    wait_until(saw_v2, 30, "dev to redeploy v2")
    thread.join(30)
    assert slow["result"][0] == 200 and slow["result"][1].startswith("v1 "), slow
    assert set(seen) == {200}, Counter(seen)
    log = server.stderr()
    assert "changed: app.py" in log, log[-3000:]
    assert re.search(r"GET / → 200 \(\d+(\.\d+)? ms\)", log), log[-3000:]


def test_dev_serves_changed_statics_without_a_redeploy(tidepool):
    server = tidepool("versioned", instances=1, start="fork", command="dev")
    assert server.get("/note.txt").text == "static one\n"
    (server.project / "public" / "note.txt").write_text("static two, longer\n")
    (server.project / "public" / "new.txt").write_text("new file\n")
    assert server.get("/note.txt").text == "static two, longer\n"
    assert server.get("/new.txt").text == "new file\n"
    time.sleep(1.2)  # two watch polls: public/ must not trigger a redeploy
    assert "redeploying" not in server.stderr()
    assert server.get("/").text.startswith("v1 ")


@pytest.mark.parametrize("build_fails", [False, True])
def test_the_current_version_serves_while_a_redeploy_builds(tidepool, build_fails):
    """A redeploy prepares the project (install, build) on a thread of its
    own: a slow build command leaves the current version answering at once
    meanwhile, whether the build then succeeds (the new version deploys) or
    fails (the current one stays)."""
    server = tidepool("versioned", instances=1, threads=4, start="fork")
    marker = server.project / "building"
    # The build marks itself running, then holds until the test lets it finish.
    release = server.project / "release"
    command = (f"touch {marker} && while [ ! -e {release} ]; do sleep 0.05; done && rm {marker}"
               + (" && exit 3" if build_fails else ""))
    (server.project / "vercel.json").write_text(json.dumps({"buildCommand": command}))
    set_version(server, "v2-two")
    server.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: marker.exists(), 30, "the build command to start")
    # The build is still running (it waits for `release`): the front answers anyway.
    for _ in range(5):
        r = server.get("/", timeout=5)
        assert r.status_code == 200 and r.text.startswith("v1 "), r.text
    assert marker.exists()
    release.touch()
    if build_fails:
        wait_until(lambda: "redeploy failed" in server.stderr(), 30, "the failed redeploy in the log")
        assert server.get("/").text.startswith("v1 ")
    else:
        wait_until(lambda: server.get("/").text.startswith("v2-two "), 30, "v2 to serve")
        wait_until(lambda: "redeploy (SIGHUP) complete" in server.stderr(), 10, "the redeploy to complete")


def test_stopping_while_a_redeploy_builds_stops_the_build(tidepool):
    """SIGTERM while a redeploy's build command runs: the host stops the
    build (its whole process group, the command's own children included)
    and exits at once, rather than waiting for the build to end."""
    server = tidepool("versioned", instances=1, start="fork")
    started = server.project / "build.pid"
    (server.project / "vercel.json").write_text(json.dumps({"buildCommand": f"echo $$ > {started}.tmp && mv {started}.tmp {started} && sleep 300"}))
    set_version(server, "v2-two")
    server.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: started.exists(), 30, "the build command to start")
    build_pid = int(started.read_text())
    assert _alive(build_pid)
    began = time.monotonic()
    server.stop()  # exit 0 within 10 s, and nothing it started left running
    assert time.monotonic() - began < 5
    # The shell and its `sleep` both (zombies not counted: the orphans' reaper is init's business).
    wait_until(lambda: not group_alive(build_pid), 5, "every process of the build command to stop")
    log = server.stderr()
    assert "stopping the redeploy's preparation (1 child process: SIGTERM)" in log, log[-2000:]
    assert "redeploy cancelled: the host is stopping" in log and "redeploy failed" not in log, log[-2000:]
