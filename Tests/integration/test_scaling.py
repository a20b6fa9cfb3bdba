"""The Fluid scheduler with real processes: the pool grows under load and
shrinks when idle, CPU-bound work scales out further than I/O-bound work,
maxDuration gives 504, a full queue gives 503, classic mode uses more
instances than fluid, and a new instance's first response carries its start
phases in `server-timing`.

Loads are short and bounded (a 2-core machine is shared); assertions are on
behaviour with generous margins, never on speed."""

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from waiting import wait_for


pytestmark = pytest.mark.timeout(120)

# Short windows so growth and shrink happen within a test.
FAST_WINDOWS = ["--idle-timeout", "1.5"]
FAST_CONFIG = """
stableWindow = 3
panicWindow = 1
queueTimeout = 30
"""


def scaling_server(tidepool, tmp_path, *flags, min_instances=1, extra_config=""):
    config = tmp_path / "scaling.toml"
    config.write_text(FAST_CONFIG + extra_config)
    return tidepool("example", instances=None, extra_args=[
        "--config", str(config), "--min-instances", str(min_instances), *FAST_WINDOWS, *flags])


class Sampler:
    """Samples /_tidepool/status every `interval` s in the background."""

    def __init__(self, server, interval=0.1):
        self.server = server
        self.interval = interval
        self.samples: list[tuple[float, int, int]] = []  # (t, instances incl. starting, queued)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        t0 = time.monotonic()
        with requests.Session() as s:
            while not self._stop.is_set():
                try:
                    data = s.get(self.server.url("/_tidepool/status"), timeout=5).json()
                    self.samples.append((time.monotonic() - t0, len(data["instances"]), data["queued"]))
                except (requests.RequestException, ValueError):
                    pass
                self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def peak(self) -> int:
        return max((n for _, n, _ in self.samples), default=0)


def drive(server, path: str, concurrency: int, rounds: int) -> list[int]:
    """`concurrency` clients, each sending `rounds` requests back to back."""
    def client(_):
        codes = []
        with requests.Session() as s:
            for _ in range(rounds):
                codes.append(s.get(server.url(path), timeout=60).status_code)
        return codes

    with ThreadPoolExecutor(concurrency) as pool:
        return [code for codes in pool.map(client, range(concurrency)) for code in codes]


def instance_count(server) -> int:
    return len(server.instance_list())


def test_io_burst_grows_then_idles_back_to_min(tidepool, tmp_path):
    server = scaling_server(tidepool, tmp_path, "--max-instances", "8")
    assert instance_count(server) == 1

    with Sampler(server) as io:
        codes = drive(server, "/api/sleep?ms=50", 64, 12)
    assert codes == [200] * len(codes), {c: codes.count(c) for c in set(codes)}
    assert io.peak >= 2, f"64 concurrent requests did not grow the pool: {io.samples}"

    back = wait_for(lambda: instance_count(server) == 1, 30)
    assert back, f"pool did not return to minInstances after idle: {server.status()['instances']}"
    assert "scale up" in server.stderr() and "scale down" in server.stderr()

    # The metrics saw the same growth: scale-ups with a reason from the closed
    # set, and the instances-by-state gauges add up to the status's count.
    text = requests.get(server.url("/_tidepool/metrics"), timeout=5).text
    events = scale_events(text)
    reasons = {"queue", "saturation", "panic", "load", "spare", "minimum", "idle", "died", "stuck", "memory", "redeploy"}
    assert sum(n for (d, _), n in events.items() if d == "up") > 1, events
    assert all(r in reasons for (_, r) in events), events
    assert any(n > 0 and d == "up" and r not in ("minimum", "died") for (d, r), n in events.items()), events
    assert events.get(("down", "idle"), 0) > 0, events
    live = len(server.instance_list())
    assert sum(gauge(text, "tidepool_instances").values()) == live
    # Every instance gets one `up` and at most one `down`: the difference is the live count.
    ups = sum(n for (d, _), n in events.items() if d == "up")
    downs = sum(n for (d, _), n in events.items() if d == "down")
    assert ups - downs == live, events


def gauge(text: str, name: str) -> dict[str, float]:
    """`name{labels} value` lines of a Prometheus exposition -> {labels: value}."""
    out = {}
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            head, value = line.rsplit(" ", 1)
            out[head[len(name):]] = float(value)
    return out


def scale_events(text: str) -> dict[tuple[str, str], float]:
    """tidepool_scale_events_total -> {(direction, reason): count}."""
    events = {}
    for labels, value in gauge(text, "tidepool_scale_events_total").items():
        pairs = dict(kv.split("=", 1) for kv in labels.strip("{}").replace('"', "").split(","))
        events[(pairs["direction"], pairs["reason"])] = value
    return events


def test_cpu_bound_load_scales_out_where_io_bound_does_not(tidepool, tmp_path):
    """16 concurrent clients: sleeps fit one instance's 32 slots; busy loops
    saturate its interpreter, so the pool scales out. (At 64 clients both
    reach 3 instances on a 2-core machine: 3 interpreters share 2 cores, so
    none reaches the 0.75-core saturation threshold. See the report script.)"""
    # On a shared 2-core machine the test's own 16 client threads and the host
    # take CPU too, so a busy interpreter may measure below the default 0.75 of a
    # core. Half a core still separates the two loads clearly (sleeps use ~0).
    server = scaling_server(tidepool, tmp_path, "--max-instances", "8",
                            extra_config="saturationThreshold = 0.5\n")
    with Sampler(server) as io:
        codes = drive(server, "/api/sleep?ms=50", 16, 12)
    assert codes == [200] * len(codes), {c: codes.count(c) for c in set(codes)}
    assert wait_for(lambda: instance_count(server) == 1, 30)
    with Sampler(server) as cpu:
        codes = drive(server, "/api/cpu?ms=40", 16, 6)
    assert codes == [200] * len(codes), {c: codes.count(c) for c in set(codes)}
    assert cpu.peak > io.peak, (
        f"CPU-bound peak {cpu.peak} instances is not above I/O-bound peak {io.peak}\n"
        f"io: {io.samples}\ncpu: {cpu.samples}")
    assert "(saturation)" in server.stderr() or "(queue)" in server.stderr()


def test_past_max_duration_is_504_and_the_instance_keeps_serving(tidepool, tmp_path):
    server = scaling_server(tidepool, tmp_path, "--max-duration", "1", "--max-instances", "1")
    started = time.monotonic()
    r = server.get("/api/sleep?ms=4000", timeout=20)
    took = time.monotonic() - started
    assert r.status_code == 504, r.text
    assert r.headers.get("x-tidepool-error") == "FUNCTION_INVOCATION_TIMEOUT"
    assert took < 3.5, f"504 came after {took:.1f}s for a 1 s maxDuration"
    assert server.get("/api/hello").status_code == 200
    # The late response is dropped; the slot is freed when Python returns.
    assert wait_for(lambda: server.status()["inFlight"] == 0, 10), server.status()
    assert server.stderr().count("ran past maxDuration") == 1


def test_full_queue_is_503_throttled(tidepool, tmp_path):
    server = scaling_server(tidepool, tmp_path, "--max-instances", "1", "--max-concurrency", "1",
                            "--queue-depth", "1")
    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(lambda: server.get("/api/sleep?ms=1500", timeout=20).status_code)
        assert wait_for(lambda: server.status()["inFlight"] == 1, 5)
        queued = pool.submit(lambda: server.get("/api/sleep?ms=10", timeout=20).status_code)
        assert wait_for(lambda: server.status()["queued"] == 1, 5)
        r = server.get("/api/hello", timeout=5)
        assert r.status_code == 503, r.text
        assert r.headers.get("x-tidepool-error") == "FUNCTION_THROTTLED"
        assert running.result() == 200
        assert queued.result() == 200


@pytest.mark.parametrize("leave", ["close", "half-close"])
def test_queued_request_whose_client_left_leaves_the_queue(tidepool, tmp_path, leave):
    server = scaling_server(tidepool, tmp_path, "--max-instances", "1", "--max-concurrency", "1",
                            "--queue-depth", "1", "--log-format", "json")
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(lambda: server.get("/api/sleep?ms=2500", timeout=20).status_code)
        assert wait_for(lambda: server.status()["inFlight"] == 1, 5)
        gone = socket.create_connection(("127.0.0.1", server.port))
        gone.sendall(b"GET /api/hello HTTP/1.1\r\nHost: x\r\n\r\n")
        assert wait_for(lambda: server.status()["queued"] == 1, 5)
        if leave == "close":
            gone.close()
        else:
            gone.shutdown(socket.SHUT_WR)
        assert wait_for(lambda: server.status()["queued"] == 0, 5), server.status()
        # Its place in the queue is free again: this one waits instead of 503.
        assert server.get("/api/hello", timeout=20).status_code == 200
        assert running.result() == 200
    if leave == "half-close":
        # Nothing was written to it: the front closed the connection.
        gone.settimeout(5)
        try:
            assert gone.recv(100) == b""
        except ConnectionResetError:
            pass
        gone.close()
    # Logged and counted as the client leaving (499), not as a 502 from the app.
    access = server.access_records(3)
    assert sorted((r["path"], r["status"], r.get("error", "none")) for r in access) == [
        ("/api/hello", 200, "none"), ("/api/hello", 499, "none"), ("/api/sleep", 200, "none")], access


def test_a_queued_request_leaves_the_queue_as_its_client_leaves(tidepool, tmp_path):
    """At once, not at the scheduler's next tick: with these windows ticks
    are 1 s apart, and a queue swept on ticks kept each departed client's
    place for 0.78-1.0 s here. Five departures in a row, each seen within 0.4 s."""
    config = tmp_path / "slow-tick.toml"
    config.write_text("panicWindow = 12\nsaturationWindow = 4\nqueueTimeout = 30\n")
    server = tidepool("example", instances=None, extra_args=[
        "--config", str(config), "--min-instances", "1", "--max-instances", "1", "--max-concurrency", "1",
        "--queue-depth", "1", "--log-format", "json"])
    waited = []
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(lambda: server.get("/api/sleep?ms=8000", timeout=30).status_code)
        assert wait_for(lambda: server.status()["inFlight"] == 1, 5)
        for _ in range(5):
            gone = socket.create_connection(("127.0.0.1", server.port))
            gone.sendall(b"GET /api/hello HTTP/1.1\r\nHost: x\r\n\r\n")
            assert wait_for(lambda: server.status()["queued"] == 1, 5)
            gone.close()
            left = time.monotonic()
            assert wait_for(lambda: server.status()["queued"] == 0, 5, interval=0.01), server.status()
            waited.append(round(time.monotonic() - left, 3))
        assert max(waited) < 0.4, waited
        assert running.result() == 200
    assert [r["status"] for r in server.access_records(6)].count(499) == 5


def test_classic_mode_uses_more_instances_than_fluid(tidepool, tmp_path):
    peaks = {}
    for mode in ["fluid", "classic"]:
        (tmp_path / mode).mkdir()
        server = scaling_server(tidepool, tmp_path / mode, "--mode", mode, "--max-instances", "6")
        with Sampler(server) as sampler:
            codes = drive(server, "/api/sleep?ms=50", 12, 10)
        assert codes == [200] * len(codes), {c: codes.count(c) for c in set(codes)}
        peaks[mode] = sampler.peak
        server.stop()
    assert peaks["classic"] > peaks["fluid"], peaks


@pytest.mark.parametrize("mode", ["fork", "spawn"])
def test_first_response_of_a_new_instance_has_server_timing(tidepool, mode):
    server = tidepool("example", instances=1, start=mode)
    first = server.get("/api/hello")
    assert first.status_code == 200
    timing = first.headers.get("server-timing", "")
    assert f'cold-start;desc="{mode}"' in timing, timing
    assert "first-call;dur=" in timing, timing
    assert ("fork;dur=" in timing) if mode == "fork" else ("import;dur=" in timing), timing
    assert "server-timing" not in server.get("/api/hello").headers


def test_vercel_json_functions_feed_the_scheduler_and_flags_win(tmp_path):
    from conftest import Tidepool, prepare_project
    import json
    project = prepare_project("example", tmp_path)
    (project / "vercel.json").write_text(json.dumps(
        {"functions": {"main.py": {"maxDuration": 1, "maxConcurrency": 4, "memory": 512}}}))
    for flags, expected in [([], {"maxDurationSeconds": 1, "maxConcurrency": 4, "instanceMemoryMB": 512}),
                            (["--max-duration", "5"], {"maxDurationSeconds": 5, "maxConcurrency": 4})]:
        server = Tidepool(project, tmp_path / "logs", extra_args=flags)
        try:
            server.wait_ready()
            config = server.status()["scheduler"]["config"]
            assert {k: config[k] for k in expected} == expected, config
            if not flags:
                r = server.get("/api/sleep?ms=3000", timeout=20)
                assert r.status_code == 504 and r.headers.get("x-tidepool-error") == "FUNCTION_INVOCATION_TIMEOUT"
        finally:
            server.stop()
