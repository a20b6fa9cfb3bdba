"""/_tidepool/metrics, the live page, the admin listener and the access log.

Real tools check the output: `promtool check metrics`, a real Prometheus
server that scrapes Tidepool, and headless Chromium rendering the live page
(Debian packages `prometheus` and `chromium`, installed by scripts/setup).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import pytest
import requests

from conftest import REPO, free_port
from waiting import wait_until

pytestmark = pytest.mark.timeout(90)
ARTIFACTS = REPO / "test-artifacts"


def parse(text: str) -> dict[tuple[str, frozenset], float]:
    """Prometheus text -> {(name, labels): value} (labels as a frozenset of pairs)."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, value = line.rsplit(" ", 1)
        if "{" in head:
            name, rest = head.split("{", 1)
            labels = frozenset(tuple(kv.split("=", 1)) for kv in rest.rstrip("}").replace('"', "").split(",") if kv)
        else:
            name, labels = head, frozenset()
        samples[(name, labels)] = float(value)
    return samples


def total(samples, name, **labels) -> float:
    want = set(labels.items())
    return sum(v for (n, l), v in samples.items() if n == name and want <= set(l))


def scrape(base_url: str) -> tuple[str, dict]:
    r = requests.get(base_url + "/_tidepool/metrics", timeout=5)
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-type"].startswith("text/plain")
    return r.text, parse(r.text)



def test_metrics_pass_promtool_and_count_what_was_sent(tidepool):
    assert shutil.which("promtool"), "promtool missing: ./scripts/setup installs Debian's prometheus"
    server = tidepool("example", instances=2)
    for _ in range(9):
        assert server.get("/api/data").status_code == 200
    assert server.get("/no-such-page").status_code == 404
    text, samples = scrape(server.base_url)
    check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=20)
    assert check.returncode == 0, check.stdout + check.stderr
    assert total(samples, "tidepool_requests_total", status_class="2xx") == 9
    assert total(samples, "tidepool_requests_total", status_class="4xx") == 1
    assert total(samples, "tidepool_invocations_total") == 10
    assert total(samples, "tidepool_request_duration_seconds_count") == 10
    assert total(samples, "tidepool_request_queue_wait_seconds_count") == 10
    assert total(samples, "tidepool_cold_starts_total", kind="fork") == 2
    assert total(samples, "tidepool_scale_events_total", direction="up", reason="minimum") == 2
    assert total(samples, "tidepool_instances", state="idle") == 2
    assert total(samples, "tidepool_instances") == 2
    slots = server.status()["scheduler"]["config"]["slotsPerInstance"]
    assert total(samples, "tidepool_instance_slot_limit") == 2 * slots
    assert sum(i["slotLimit"] for i in server.status()["instances"]) == 2 * slots
    assert total(samples, "tidepool_active_cpu_seconds_total") > 0
    assert total(samples, "tidepool_host_resident_memory_bytes") > 1_000_000
    assert total(samples, "tidepool_host_open_fds") > 3
    names = {name for name, _ in samples}
    assert all(name.startswith("tidepool_") for name in names)


def test_front_guard_rejections_are_counted_and_logged(tidepool):
    """A 414 from the front's framing checks never reaches an instance, but it
    is still traffic: counted by error code and written to the access log."""
    server = tidepool("example", instances=1, extra_args=["--log-format", "json"])
    r = requests.get(server.base_url + "/" + "a" * 9000, timeout=5)
    assert r.status_code == 414 and r.headers.get("x-tidepool-error") == "URL_TOO_LONG"
    samples = wait_until(lambda: (lambda s: s if total(s, "tidepool_requests_total", error="URL_TOO_LONG") else None)(
        scrape(server.base_url)[1]), 5, "the 414 in the metrics")
    assert total(samples, "tidepool_requests_total", status_class="4xx", error="URL_TOO_LONG") == 1
    assert total(samples, "tidepool_request_queue_wait_seconds_count") == 0  # never dispatched
    access = server.access_records(1)
    assert [(r["status"], r["error"], r["start"]) for r in access] == [(414, "URL_TOO_LONG", "none")]
    assert len(access[0]["path"]) <= 513


def test_counters_never_go_backwards_when_an_instance_dies(tidepool):
    server = tidepool("example", instances=2)
    for _ in range(6):
        server.get("/api/data")
    # Provisioned memory (instanceMemoryMB × lifetime) is charged at each scrape.
    wait_until(lambda: total(scrape(server.base_url)[1], "tidepool_provisioned_memory_gigabyte_seconds_total") > 0,
             10, "provisioned memory GB-seconds")
    _, before = scrape(server.base_url)
    victim = server.instance_list()[0]
    os.kill(victim["pid"], signal.SIGKILL)
    wait_until(lambda: total(scrape(server.base_url)[1], "tidepool_scale_events_total", direction="up", reason="died") == 1,
             15, "a scale-up for the died instance")
    assert total(scrape(server.base_url)[1], "tidepool_scale_events_total", direction="down", reason="died") == 1
    wait_until(lambda: total(scrape(server.base_url)[1], "tidepool_instances", state="idle") == 2, 15, "two idle instances")
    server.get("/api/data")
    _, after = scrape(server.base_url)
    for (name, labels), value in before.items():
        if name.endswith("_total") or name.endswith("_count") or name.endswith("_sum") or name.endswith("_bucket"):
            assert after.get((name, labels), 0) >= value, f"{name}{dict(labels)} went from {value} to {after.get((name, labels))}"
    assert total(after, "tidepool_invocations_total") == total(before, "tidepool_invocations_total") + 1
    assert total(after, "tidepool_cold_starts_total") == 3
    assert not any(name == "tidepool_instance_slot_limit" and ("instance", str(victim["id"])) in labels
                   for name, labels in after), "the dead instance's series must be gone"


def test_a_real_prometheus_scrapes_tidepool(tidepool, tmp_path):
    assert shutil.which("prometheus"), "prometheus missing: ./scripts/setup installs Debian's prometheus"
    server = tidepool("example", instances=2)
    sent = 7
    for _ in range(sent):
        assert server.get("/api/data").status_code == 200
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: tidepool\n    metrics_path: /_tidepool/metrics\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{server.port}']\n")
    log = open(tmp_path / "prometheus.log", "wb")
    prometheus = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h"],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    api = f"http://127.0.0.1:{port}/api/v1/query"

    def query(expr: str):
        try:
            r = requests.get(api, params={"query": expr}, timeout=2)
            body = r.json()
        except (requests.ConnectionError, requests.Timeout, ValueError):
            return None
        return body["data"]["result"] if body.get("status") == "success" else None

    try:
        instances = wait_until(lambda: query("tidepool_instances"), 30, "tidepool_instances in Prometheus")
        assert {r["metric"]["state"] for r in instances} == {"starting", "idle", "busy", "draining"}
        assert all(r["metric"]["job"] == "tidepool" for r in instances)
        result = wait_until(lambda: query('sum(tidepool_requests_total{status_class="2xx"})'), 15, "the request counter")
        assert float(result[0]["value"][1]) == sent
    finally:
        prometheus.terminate()
        try:
            prometheus.wait(timeout=10)
        except subprocess.TimeoutExpired:
            prometheus.kill()
            prometheus.wait()
        log.close()


def chromium(*args: str, timeout: float = 45) -> subprocess.CompletedProcess:
    binary = shutil.which("chromium")
    assert binary, "chromium missing: ./scripts/setup installs Debian's chromium"
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
             "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1280,1000", *args],
            capture_output=True, text=True, timeout=timeout)


def test_live_page_draws_charts_and_instances_in_headless_chromium(tidepool):
    server = tidepool("example", instances=2)
    stop = threading.Event()

    def traffic():
        with requests.Session() as session:
            while not stop.is_set():
                session.get(server.url("/api/data"), timeout=5)
                time.sleep(0.02)

    worker = threading.Thread(target=traffic, daemon=True)
    worker.start()
    try:
        page = server.url("/_tidepool/")
        dom = chromium("--virtual-time-budget=6000", "--dump-dom", page)
        assert dom.returncode == 0, dom.stderr[-2000:]
        ARTIFACTS.mkdir(exist_ok=True)
        shot = chromium("--virtual-time-budget=6000", f"--screenshot={ARTIFACTS / 'live-page.png'}", page)
    finally:
        stop.set()
        worker.join(timeout=10)
    html = dom.stdout
    (ARTIFACTS / "live-page.html").write_text(html)
    import html.parser as hp

    class Collect(hp.HTMLParser):
        def __init__(self):
            super().__init__()
            self.series, self.rows, self.cells, self.errors, self._in_errors, self._in_rows = [], 0, [], "", False, False

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "path" and a.get("class") == "series":
                self.series.append((a.get("data-series"), a.get("d", "")))
            if tag == "tbody" and a.get("id") == "instance-rows":
                self._in_rows = True
            if tag == "tr" and self._in_rows:
                self.rows += 1
            if tag == "div" and a.get("id") == "errors":
                self._in_errors = True

        def handle_endtag(self, tag):
            if tag == "tbody":
                self._in_rows = False
            if tag == "div":
                self._in_errors = False

        def handle_data(self, data):
            if self._in_errors:
                self.errors += data
            if self._in_rows:
                self.cells.append(data)

    parsed = Collect()
    parsed.feed(html)
    assert parsed.errors.strip() == "", f"the page reported: {parsed.errors}"
    drawn = {name: d for name, d in parsed.series}
    for name in ["rps", "idle", "inflight", "p50", "p99", "cold"]:
        assert name in drawn, f"no {name} series in the DOM: {sorted(drawn)}"
    assert drawn["rps"].count("L") >= 1, "the requests/s line needs at least two points"
    assert parsed.rows == 2, f"instance table rows: {parsed.rows}"
    # State names come from /_tidepool/status (the pool's: ready; the scheduler's: idle/busy).
    assert {"ready", "idle", "busy"} & set(parsed.cells), parsed.cells
    assert "Uncaught" not in dom.stderr, dom.stderr[-2000:]
    assert shot.returncode == 0 and (ARTIFACTS / "live-page.png").stat().st_size > 10_000, shot.stderr[-2000:]


def test_admin_port_serves_tidepool_paths_and_the_main_port_does_not(tidepool):
    admin = free_port()
    server = tidepool("example", instances=1, wait=False, extra_args=["--admin-port", str(admin)])
    main_url, admin_url = server.base_url, f"http://127.0.0.1:{admin}"
    server.base_url = admin_url  # readiness and status come from the admin listener
    server.wait_ready()
    for path in ["/_tidepool/metrics", "/_tidepool/status", "/_tidepool/health", "/_tidepool/", "/_tidepool"]:
        r = requests.get(main_url + path, timeout=5)
        assert r.status_code == 404, f"main port {path}: {r.status_code}"
        assert r.headers.get("x-tidepool-error") == "NOT_FOUND"
        assert requests.get(admin_url + path, timeout=5).status_code == 200, f"admin port {path}"
    assert requests.get(main_url + "/api/data", timeout=5).status_code == 200
    assert requests.get(admin_url + "/api/data", timeout=5).status_code == 404, "the app is not on the admin port"
    _, samples = scrape(admin_url)
    assert total(samples, "tidepool_requests_total") == 1  # the app request, not the admin ones
    assert "Tidepool" in requests.get(admin_url + "/_tidepool/", timeout=5).text


def test_json_access_log_has_one_line_per_request(tidepool):
    server = tidepool("example", instances=1, extra_args=["--log-format", "json"])
    server.get("/api/data?secret=1")
    server.get("/api/data")
    server.get("/no-such-page")
    time.sleep(0.3)
    lines = [line for line in server.stderr().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is JSON
    access = [r for r in records if r["logger"] == "tidepool.access"]
    assert [(r["method"], r["path"], r["status"]) for r in access] == [
        ("GET", "/api/data", 200), ("GET", "/api/data", 200), ("GET", "/no-such-page", 404)]
    assert [r["start"] for r in access] == ["cold", "warm", "warm"]
    for r in access:
        assert r["instance"] == 1 and float(r["duration_ms"]) >= 0 and float(r["queue_ms"]) >= 0
    assert any(r.get("scale") == "up" and r.get("reason") == "minimum" for r in records)
