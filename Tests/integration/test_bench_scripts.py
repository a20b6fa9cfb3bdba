"""The benchmark commands (LoadTests/bench-peers, LoadTests/bench-goals) parse,
document themselves, and read wrk / server-timing / smaps_rollup output
correctly. No server and no load: the benchmarks themselves are not tests."""

import subprocess
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
