"""config/tidepool.toml: the shipped file loads and changes nothing; bad files are rejected clearly."""

import re
import subprocess

import pytest

from conftest import BINARY, REPO, Tidepool, prepare_project

pytestmark = pytest.mark.timeout(60)


def test_shipped_config_loads_and_keeps_defaults(tmp_path):
    project = prepare_project("example", tmp_path)
    # No --instances: the default (minInstances 1) must be in force after loading the shipped file.
    server = Tidepool(project, tmp_path / "logs", instances=None,
                      extra_args=["--config", str(REPO / "config" / "tidepool.toml")])
    server.instances = 1
    try:
        server.wait_ready()
        assert server.health()["ready"] == 1
        assert len(server.instance_list()) == 1
        assert server.get("/api/data").status_code == 200
    finally:
        server.stop()


def test_shipped_config_uncommented_equals_defaults(tmp_path):
    """Every key in config/tidepool.toml, uncommented, is the default in force."""
    text = (REPO / "config" / "tidepool.toml").read_text()
    uncommented = re.sub(r"(?m)^# ([A-Za-z]+ = )", r"\1", text)
    keys = re.findall(r"(?m)^([A-Za-z]+) = ", uncommented)
    scheduler_keys = {"mode", "minInstances", "maxInstances", "spareInstances", "maxConcurrency",
                      "targetUtilisation", "stableWindow", "panicWindow", "panicThreshold", "idleTimeout",
                      "queueDepth", "queueTimeout", "maxDuration", "stuckGrace", "maxStartsInFlight",
                      "saturationThreshold", "saturationWindow", "instanceMemoryMB"}
    assert set(keys) == {"host", "port", "start", "maxRequestBodyBytes"} | scheduler_keys | {
        # hardening (issue 7)
        "maxResponseBodyBytes", "maxHeaderBytes", "maxURIBytes", "clientTimeout", "headerTimeout",
        "bodyTimeout", "trustedProxies",
        "maxConnections", "instanceMaxOpenFiles", "instanceCoreDumps",
        # metrics (issue 5)
        "adminHost", "logFormat"}
    config = tmp_path / "all-keys.toml"
    config.write_text(uncommented)
    project = prepare_project("example", tmp_path)
    server = Tidepool(project, tmp_path / "logs", extra_args=["--config", str(config)])  # --port overrides 3000
    server.instances = 1
    try:
        server.wait_ready()
        status = server.status()
        c = status["configuration"]
        expected = {"host": "127.0.0.1", "port": server.port, "start": "fork",
                    "maxRequestBodyBytes": 4_500_000, "maxDurationSeconds": 300}
        assert {k: c.get(k) for k in expected} == expected
        s = status["scheduler"]["config"]
        expected = {"mode": "fluid", "minInstances": 1, "maxInstances": 8, "spareInstances": 0,
                    "maxConcurrency": 32, "targetUtilisation": 0.7, "stableWindowSeconds": 60,
                    "panicWindowSeconds": 6, "panicThreshold": 2, "idleTimeoutSeconds": 60, "queueDepth": 1000,
                    "queueTimeoutSeconds": 10, "maxDurationSeconds": 300, "stuckGraceSeconds": 10,
                    "maxStartsInFlight": 8, "saturationThreshold": 0.75, "saturationWindowSeconds": 2,
                    "instanceMemoryMB": 256}
        assert {k: s.get(k) for k in expected} == expected
    finally:
        server.stop()


@pytest.mark.parametrize("text, needle", [
    ("instancez = 3\n", "instancez"),
    ("threads = \"eight\"\n", "threads"),
    ("start = \"clone\"\n", "start"),
    ("port = 70000\n", "port"),
    ("instances = [\n", "TOML"),
    ("minInstances = 3\nmaxInstances = 2\n", "maxInstances"),
    ("mode = \"serverful\"\n", "mode"),
    ("targetUtilisation = 1.5\n", "targetUtilisation"),
    ("idleTimeout = \"soon\"\n", "idleTimeout"),
    ("panicWindow = 120\n", "panicWindow"),
    ("trustedProxies = [\"10.0.0.0/33\"]\n", "trustedProxies"),
    ("clientTimeout = 0\n", "clientTimeout"),
    ("headerTimeout = 0\n", "headerTimeout"),
    ("bodyTimeout = \"slow\"\n", "bodyTimeout"),
])
def test_bad_config_is_rejected(tmp_path, text, needle):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    project = prepare_project("example", tmp_path)
    result = subprocess.run([str(BINARY), "serve", str(project), "--config", str(config)],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode != 0
    assert needle in result.stderr, result.stderr


@pytest.mark.parametrize("flags, needle", [
    (["--min-instances", "4", "--max-instances", "2"], "maxInstances"),
    (["--max-concurrency", "0"], "maxConcurrency"),
    (["--queue-timeout", "0"], "queueTimeout"),
])
def test_bad_scheduler_flags_are_rejected(tmp_path, flags, needle):
    project = prepare_project("example", tmp_path)
    result = subprocess.run([str(BINARY), "serve", str(project), *flags],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode != 0
    assert needle in result.stderr, result.stderr
