"""config/tidepool.toml: the shipped file loads and changes nothing; bad files are rejected clearly."""

import re
import subprocess

import pytest

from conftest import BINARY, REPO, Tidepool, prepare_project

pytestmark = pytest.mark.timeout(60)


def test_shipped_config_loads_and_keeps_defaults(tmp_path):
    project = prepare_project("example", tmp_path)
    # No --instances: the default (2) must be in force after loading the shipped file.
    server = Tidepool(project, tmp_path / "logs",
                      extra_args=["--config", str(REPO / "config" / "tidepool.toml")])
    try:
        server.wait_ready()
        assert server.health()["ready"] == 2
        assert len(server.instance_list()) == 2
        assert server.get("/api/data").status_code == 200
    finally:
        server.stop()


def test_shipped_config_uncommented_equals_defaults(tmp_path):
    """Every key in config/tidepool.toml, uncommented, is the default in force."""
    text = (REPO / "config" / "tidepool.toml").read_text()
    uncommented = re.sub(r"(?m)^# ([A-Za-z]+ = )", r"\1", text)
    keys = re.findall(r"(?m)^([A-Za-z]+) = ", uncommented)
    assert set(keys) == {"host", "port", "instances", "threads", "start", "maxRequestBodyBytes", "maxDuration",
                         # hardening (issue 7)
                         "maxResponseBodyBytes", "maxHeaderBytes", "maxURIBytes", "clientTimeout",
                         "trustedProxies",
                         # metrics (issue 5)
                         "adminHost", "logFormat"}
    config = tmp_path / "all-keys.toml"
    config.write_text(uncommented)
    project = prepare_project("example", tmp_path)
    server = Tidepool(project, tmp_path / "logs", extra_args=["--config", str(config)])  # --port overrides 3000
    try:
        server.wait_ready()
        c = server.status()["configuration"]
        expected = {"host": "127.0.0.1", "port": server.port, "instances": 2, "threads": 8, "start": "fork",
                    "maxRequestBodyBytes": 4_500_000, "maxDurationSeconds": 300}
        assert {k: c.get(k) for k in expected} == expected
    finally:
        server.stop()


@pytest.mark.parametrize("text, needle", [
    ("instancez = 3\n", "instancez"),
    ("threads = \"eight\"\n", "threads"),
    ("start = \"clone\"\n", "start"),
    ("port = 70000\n", "port"),
    ("instances = [\n", "TOML"),
    ("trustedProxies = [\"10.0.0.0/33\"]\n", "trustedProxies"),
    ("clientTimeout = 0\n", "clientTimeout"),
])
def test_bad_config_is_rejected(tmp_path, text, needle):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    project = prepare_project("example", tmp_path)
    result = subprocess.run([str(BINARY), "serve", str(project), "--config", str(config)],
                            capture_output=True, text=True, timeout=20)
    assert result.returncode != 0
    assert needle in result.stderr, result.stderr
