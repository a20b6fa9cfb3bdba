"""Trust boundary (issue 7, item 5): started as root, the template and every
instance run as an unprivileged user with RLIMIT_NOFILE and RLIMIT_CORE set.

The default (no `user` key) is "nobody when nobody can read the project,
else root with a warning": pytest's own tmp dirs are 0700 like /root, so the
readable projects here live in a world-readable directory made for them."""

import os
import pwd
import shutil
import stat
import tempfile
from pathlib import Path

import pytest

from conftest import Tidepool, json_of, prepare_project

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.skipif(os.geteuid() != 0, reason="switching user needs the tests to run as root"),
]


@pytest.fixture
def open_dir():
    """A directory every user may enter and read (0755 under /tmp)."""
    path = Path(tempfile.mkdtemp(prefix="tidepool-user-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def readable_project(base: Path) -> Path:
    project = prepare_project("hardened", base)
    # The fixture appends to requests.log in its directory: let any user write.
    project.chmod(0o777)
    return project


def serve(project: Path, logs: Path, config: str, start: str, wait: bool = True) -> Tidepool:
    config_path = logs.parent / f"tidepool-{start}.toml"
    logs.mkdir(parents=True, exist_ok=True)
    config_path.write_text(config)
    server = Tidepool(project, logs, instances=2, threads=2, start=start,
                      extra_args=["--config", str(config_path)])
    if wait:
        server.wait_ready()
    return server


def identities(server: Tidepool, count: int = 6) -> list[dict]:
    return [json_of(server.get("/whoami")) for _ in range(count)]


@pytest.mark.parametrize("start", ["fork", "spawn"])
def test_configured_user_and_limits(open_dir, tmp_path, start):
    nobody = pwd.getpwnam("nobody")
    project = readable_project(open_dir)
    server = serve(project, tmp_path / "logs",
                   'user = "nobody"\ninstanceMaxOpenFiles = 1000\n', start)
    try:
        for who in identities(server):
            assert who["uid"] == nobody.pw_uid and who["gid"] == nobody.pw_gid, who
            assert who["groups"] in ([], [nobody.pw_gid]), who
            assert who["nofile"] == [1000, 1000], who
            assert who["core"] == [0, 0], who
        # The host itself stays root (it binds, signals and reaps).
        assert os.stat(f"/proc/{server.proc.pid}").st_uid == 0
    finally:
        server.stop()


def test_default_drops_to_nobody_when_it_can_read(open_dir, tmp_path):
    project = readable_project(open_dir)
    server = serve(project, tmp_path / "logs", "", "fork")
    try:
        nobody = pwd.getpwnam("nobody")
        for who in identities(server, 3):
            assert who["uid"] == nobody.pw_uid, who
            assert who["nofile"] == [4096, 4096] and who["core"] == [0, 0], who
    finally:
        server.stop()


def test_default_keeps_root_with_a_warning_when_nobody_cannot_read(tmp_path):
    # tmp_path sits under pytest's 0700 directory, like a checkout under /root.
    project = prepare_project("hardened", tmp_path)
    server = serve(project, tmp_path / "logs", "", "fork")
    try:
        for who in identities(server, 3):
            assert who["uid"] == 0, who
            assert who["core"] == [0, 0], who
        assert "instances run as root: user nobody cannot read" in server.stderr()
    finally:
        server.stop()


def test_configured_user_that_cannot_read_the_project_stops_the_start(open_dir, tmp_path):
    project = prepare_project("hardened", open_dir)
    project.chmod(0o700)
    server = serve(project, tmp_path / "logs", 'user = "nobody"\n', "spawn", wait=False)
    try:
        assert server.proc.wait(timeout=60) == 1
        err = server.stderr()
        assert f"user nobody cannot read {project}" in err, err[-2000:]
        assert "set `user`" in err
    finally:
        server.stop(expect_exit_zero=False)


def test_unknown_user_is_a_clear_error(open_dir, tmp_path):
    project = readable_project(open_dir)
    server = serve(project, tmp_path / "logs", 'user = "no-such-user-tp"\n', "fork", wait=False)
    try:
        assert server.proc.wait(timeout=60) == 1
        assert "not a user on this machine" in server.stderr()
    finally:
        server.stop(expect_exit_zero=False)


def test_root_keeps_root(open_dir, tmp_path):
    project = readable_project(open_dir)
    server = serve(project, tmp_path / "logs", 'user = "root"\ninstanceCoreDumps = true\n', "spawn")
    try:
        for who in identities(server, 3):
            assert who["uid"] == 0, who
            assert who["core"] != [0, 0], who
    finally:
        server.stop()
