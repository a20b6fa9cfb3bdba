"""The benchmark commands (LoadTests/bench-peers, bench-goals, cpu-per-request,
instructions) parse,
document themselves, and read wrk / server-timing / smaps_rollup output
correctly, and the latency goal's reference servers answer like the app. No
load: the benchmarks themselves are not tests."""

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*cmd):
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_bench_peers_is_valid_bash_with_help():
    assert run("bash", "-n", "LoadTests/bench-peers").returncode == 0
    help_ = run("LoadTests/bench-peers", "--help")
    assert help_.returncode == 0 and "--goals" in help_.stdout and "set -euo" not in help_.stdout


def test_bench_goals_help_and_parsers():
    help_ = run("LoadTests/bench-goals", "--help")
    assert help_.returncode == 0
    for name in ("throughput", "io", "cpu", "coldstart", "memory", "latency", "--only"):
        assert name in help_.stdout
    assert run("LoadTests/bench-goals", "--self-test").stdout.strip() == "self-test ok"
    bad = run("LoadTests/bench-goals", "--only", "nope", "--no-setup")
    assert bad.returncode == 2 and "unknown goal" in bad.stderr


def test_cpu_per_request_is_valid_bash_with_help():
    assert run("bash", "-n", "LoadTests/cpu-per-request").returncode == 0
    help_ = run("LoadTests/cpu-per-request", "--help")
    assert help_.returncode == 0 and "--runs" in help_.stdout and "set -euo" not in help_.stdout
    assert run("LoadTests/cpu-per-request", "--bogus").returncode == 2


def test_instructions_is_valid_bash_with_help():
    assert run("bash", "-n", "LoadTests/instructions").returncode == 0
    help_ = run("LoadTests/instructions", "--help")
    assert help_.returncode == 0 and "--instance" in help_.stdout and "set -euo" not in help_.stdout
    assert run("LoadTests/instructions", "--bogus").returncode == 2
    bad = run("LoadTests/instructions", "--requests", "0")
    assert bad.returncode == 2 and "--requests" in bad.stderr


def test_latency_floors_answer_like_the_app(tmp_path):
    """bench-goals' floors (LoadTests/floor: the app in-process behind a
    blocking loop, and that loop behind a C proxy) serve the example's
    /api/data, so the latency goal compares like with like."""
    sys.path.insert(0, str(ROOT / "LoadTests"))
    import benchlib
    benchlib.build_floor_proxy()
    for name in ("floor-1proc", "floor-2proc"):
        with benchlib.Server(name, tmp_path) as server:
            for _ in range(3):  # one connection each, one after another
                with urllib.request.urlopen(server.url("/api/data"), timeout=5) as r:
                    assert r.status == 200 and json.load(r)["total"] == 3, name
