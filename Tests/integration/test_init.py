"""A new user's path (issue 3, item 7): `tidepool init flask DIR` then
`tidepool serve DIR`, and the example's routes answer."""

import subprocess

import pytest

from conftest import BINARY, TEST_VENV, Tidepool, json_of

pytestmark = pytest.mark.timeout(90)


def test_init_then_serve(tmp_path):
    project = tmp_path / "myapp"
    result = subprocess.run([str(BINARY), "init", "flask", str(project)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert (project / "public").is_dir()
    # The test venv already has flask: link it instead of installing from the index.
    (project / ".venv").symlink_to(TEST_VENV, target_is_directory=True)
    server = Tidepool(project, tmp_path / "logs", instances=1).wait_ready()
    try:
        r = server.get("/")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        data = json_of(server.get("/api/data"))
        assert data["total"] == 3
    finally:
        server.stop()


def test_init_refuses_a_non_empty_directory(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    result = subprocess.run([str(BINARY), "init", "flask", str(tmp_path)], capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert (tmp_path / "keep.txt").read_text() == "mine"
