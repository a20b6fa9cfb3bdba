#!/usr/bin/env python3
"""Scaling report for the Fluid scheduler (issue 4). Stdlib only.

Starts `tidepool serve` on the example app, drives a burst of concurrent
clients, samples /_tidepool/status every 250 ms, and prints instances over
time, cold starts, p50/p99 latency, errors and instance-seconds.

    python3 LoadTests/scaling-report.py                 # all scenarios
    python3 LoadTests/scaling-report.py io cpu          # some of them

Scenarios: io (64 clients, /api/sleep?ms=50, fluid), cpu (64 clients,
/api/cpu?ms=40, fluid), classic (the io load in classic mode), io16 and
cpu16 (the same with 16 clients). Each client sends its rounds back to back.
Settings: minInstances 1, maxInstances 8, idleTimeout 1.5 s, stableWindow
3 s, panicWindow 1 s. Needs .build/release/tidepool.
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BINARY = REPO / ".build" / "release" / "tidepool"
SCENARIOS = {  # name: (mode, path, rounds per client, clients)
    "io": ("fluid", "/api/sleep?ms=50", 12, 64),
    "cpu": ("fluid", "/api/cpu?ms=40", 3, 64),
    "classic": ("classic", "/api/sleep?ms=50", 12, 64),
    "io16": ("fluid", "/api/sleep?ms=50", 12, 16),
    "cpu16": ("fluid", "/api/cpu?ms=40", 6, 16),
}
CONFIG = "stableWindow = 3\npanicWindow = 1\nqueueTimeout = 30\n"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str, timeout: float = 60):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def start(mode: str, workdir: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    config = workdir / "scaling.toml"
    config.write_text(CONFIG)
    args = [str(BINARY), "serve", str(REPO / "examples" / "flask"), "--port", str(port), "--config", str(config),
            "--mode", mode, "--min-instances", "1", "--max-instances", "8", "--idle-timeout", "1.5"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=open(workdir / f"{mode}.log", "wb"))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            status, _, body = get(port, "/_tidepool/health", 2)
            if status == 200 and json.loads(body)["ready"] >= 1:
                return proc, port
        except OSError:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("tidepool did not become ready")


def run(name: str, workdir: Path) -> dict:
    mode, path, rounds, concurrency = SCENARIOS[name]
    proc, port = start(mode, workdir)
    samples: list[tuple[float, int, int]] = []
    stop = threading.Event()
    t0 = time.monotonic()
    seen_ids: set[int] = set()

    def sample():
        while not stop.is_set():
            try:
                _, _, body = get(port, "/_tidepool/status", 5)
                data = json.loads(body)
                samples.append((time.monotonic() - t0, len(data["instances"]), data["queued"]))
                seen_ids.update(i["id"] for i in data["instances"])
            except (OSError, ValueError):
                pass
            stop.wait(0.25)

    latencies: list[float] = []
    codes: dict[int, int] = {}
    cold: list[str] = []
    lock = threading.Lock()

    def client(_):
        for _ in range(rounds):
            t = time.monotonic()
            try:
                status, headers, _ = get(port, path)
            except OSError:
                status, headers = 0, {}
            dt = time.monotonic() - t
            with lock:
                latencies.append(dt)
                codes[status] = codes.get(status, 0) + 1
                timing = {k.lower(): v for k, v in headers.items()}.get("server-timing")
                if timing:
                    cold.append(timing)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    load_start = time.monotonic() - t0
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(client, range(concurrency)))
    load_end = time.monotonic() - t0
    # Keep sampling until the pool is back to one instance (or 20 s).
    idle_deadline = time.monotonic() + 20
    while time.monotonic() < idle_deadline and (not samples or samples[-1][1] > 1):
        time.sleep(0.25)
    stop.set()
    sampler.join()
    proc.send_signal(signal.SIGTERM)
    proc.wait(30)

    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    instance_seconds = sum(n * 0.25 for t, n, _ in samples if load_start <= t <= load_end + 0.25)
    return {
        "scenario": name, "mode": mode, "clients": concurrency, "path": path, "requests": len(latencies),
        "codes": codes, "p50_ms": round(pick(0.50), 1), "p99_ms": round(pick(0.99), 1),
        "load_seconds": round(load_end - load_start, 2),
        "peak_instances": max((n for _, n, _ in samples), default=0),
        "instances_used": len(seen_ids), "cold_starts_seen_by_clients": len(cold),
        "instance_seconds_during_load": round(instance_seconds, 2),
        "back_to_min_after_s": next((round(t - load_end, 2) for t, n, _ in samples if t > load_end and n == 1), None),
        "timeline": [(round(t, 2), n, q) for t, n, q in samples],
        "example_server_timing": cold[0] if cold else None,
    }


def main() -> None:
    names = sys.argv[1:] or list(SCENARIOS)
    if not BINARY.exists():
        raise SystemExit(f"{BINARY} missing: swift build -c release")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            result = run(name, Path(tmp))
            timeline = result.pop("timeline")
            print(json.dumps(result))
            print("  instances over time (s: instances/queued):",
                  " ".join(f"{t}:{n}/{q}" for t, n, q in timeline))


if __name__ == "__main__":
    main()
