"""Integration harness: the real `tidepool serve` binary, real processes, real HTTP.

`launch(...)` (and the `tidepool` factory fixture) copies a fixture project to
a temporary directory, links its `.venv` to the repository's `.venv-tests`
(which has flask), starts `.build/release/tidepool serve PROJECT --host
127.0.0.1 --port FREEPORT [...]`, and waits until `GET /_tidepool/health`
answers 200 with `ready == instances`. Stopping sends SIGTERM and asserts
that the server exits 0 within 10 s and that no process it started is left.

Contract the harness relies on (besides the HTTP routes of the apps):
  GET /_tidepool/health  -> 200, JSON object with "ready": <int>
  GET /_tidepool/status  -> 200, JSON object with "instances": [{"id", "pid", "inFlight", ...}]
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

# Re-exported: tests import the /proc helpers from here too.
from processes import TOKEN_VARIABLE, _alive, _reap, _stat, descendants, processes_with_token  # noqa: F401
from waiting import wait_for

REPO = Path(__file__).resolve().parents[2]
# TIDEPOOL_BINARY overrides the binary under test (e.g. a build in another scratch path).
BINARY = Path(os.environ.get("TIDEPOOL_BINARY", REPO / ".build" / "release" / "tidepool"))
TEST_VENV = REPO / ".venv-tests"
APPS = Path(__file__).resolve().parent / "apps"
EXAMPLE = REPO / "examples" / "flask"

START_MODES = ["fork", "spawn"]
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0


def _become_subreaper() -> None:
    """Orphans of a server under test re-parent to pytest instead of PID 1, so
    they stay visible as our descendants and their zombies can be reaped."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except OSError:
        pass


_become_subreaper()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------
# Projects
# --------------------------------------------------------------------------

def prepare_project(app: str | Path, destination: Path) -> Path:
    """Copy a fixture app (a name under apps/, "example", or a path) to
    `destination` and link its .venv to the test venv."""
    if isinstance(app, Path):
        source = app
    elif app == "example":
        source = EXAMPLE
    else:
        source = APPS / app
    assert source.is_dir(), f"no fixture project at {source}"
    project = destination / source.name
    shutil.copytree(source, project, ignore=shutil.ignore_patterns(".venv", "__pycache__", "*.pyc"))
    assert (TEST_VENV / "pyvenv.cfg").exists(), f"{TEST_VENV} missing: run ./scripts/test (it creates it)"
    (project / ".venv").symlink_to(TEST_VENV, target_is_directory=True)
    return project


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------

class Tidepool:
    """One `tidepool serve` process under test."""

    def __init__(self, project: Path, logs: Path, *, instances: int | None = None,
                 threads: int | None = None, start: str | None = None,
                 extra_args: list[str] | None = None, command: str = "serve"):
        assert BINARY.exists(), f"{BINARY} missing: run `swift build -c release` (./scripts/test does)"
        self.project = project
        self.port = free_port()
        self.instances = instances if instances is not None else 1  # the default minInstances
        self.threads = threads
        self.start_mode = start
        self.token = uuid.uuid4().hex
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.args = [str(BINARY), command, str(project), "--host", "127.0.0.1", "--port", str(self.port)]
        if instances is not None:
            self.args += ["--instances", str(instances)]
        if threads is not None:
            self.args += ["--threads", str(threads)]
        if start is not None:
            self.args += ["--start", start]
        self.args += extra_args or []
        logs.mkdir(parents=True, exist_ok=True)
        self.stdout_path = logs / f"tidepool-{self.port}.stdout"
        self.stderr_path = logs / f"tidepool-{self.port}.stderr"
        self._stdout = open(self.stdout_path, "wb")
        self._stderr = open(self.stderr_path, "wb")
        env = dict(os.environ, **{TOKEN_VARIABLE: self.token})
        env.pop("PYTHONPATH", None)
        env.pop("VIRTUAL_ENV", None)
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=self._stdout,
                                     stderr=self._stderr, env=env, cwd=str(project))
        self.known: dict[int, int] = {}  # every descendant ever seen: pid -> starttime
        self.stopped = False

    # --- output ---------------------------------------------------------
    def stderr(self) -> str:
        if not self._stderr.closed:
            self._stderr.flush()
        return self.stderr_path.read_text(errors="replace")

    def access_records(self, count: int, timeout: float = 5) -> list:
        """The JSON access log's records (--log-format json) once at least
        `count` are written: the host writes access lines together, 20 ms
        after the first of them."""
        def records():
            return [json.loads(line) for line in self.stderr().splitlines() if '"tidepool.access"' in line]
        wait_for(lambda: len(records()) >= count, timeout, interval=0.02)
        return records()

    def output_tail(self, limit: int = 6000) -> str:
        text = self.stderr()
        out = self.stdout_path.read_text(errors="replace")
        if out.strip():
            text += "\n--- stdout ---\n" + out
        return text[-limit:]

    # --- HTTP -------------------------------------------------------------
    def url(self, path: str) -> str:
        return self.base_url + path

    def get(self, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 10)
        return requests.get(self.url(path), **kw)

    def request(self, method: str, path: str, **kw) -> requests.Response:
        kw.setdefault("timeout", 10)
        return requests.request(method, self.url(path), **kw)

    def health(self) -> dict:
        r = self.get("/_tidepool/health", timeout=5)
        assert r.status_code == 200, f"/_tidepool/health answered {r.status_code}: {r.text[:300]}"
        return r.json()

    def status(self) -> dict:
        r = self.get("/_tidepool/status", timeout=5)
        assert r.status_code == 200, f"/_tidepool/status answered {r.status_code}: {r.text[:300]}"
        return r.json()

    def instance_list(self) -> list[dict]:
        data = self.status()
        items = data["instances"] if isinstance(data, dict) else data
        assert isinstance(items, list), f"unexpected /_tidepool/status shape: {data!r}"
        return items

    # --- lifecycle ----------------------------------------------------------
    def _remember_tree(self) -> None:
        if self.proc.poll() is None:
            self.known.update(descendants(self.proc.pid))

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> "Tidepool":
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            code = self.proc.poll()
            if code is not None:
                pytest.fail(f"tidepool exited with {code} before it was ready.\n"
                            f"command: {' '.join(self.args)}\n--- stderr ---\n{self.output_tail()}")
            try:
                r = requests.get(self.url("/_tidepool/health"), timeout=2)
                last = f"{r.status_code} {r.text[:200]!r}"
                if r.status_code == 200 and r.json().get("ready") == self.instances:
                    self.ready_after = time.monotonic() - self.started_at
                    self._remember_tree()
                    return self
            except (requests.ConnectionError, requests.Timeout, ValueError, AttributeError) as e:
                last = type(e).__name__
            time.sleep(0.05)
        self._remember_tree()
        self.kill()
        pytest.fail(f"tidepool not ready within {timeout:.0f}s (last /_tidepool/health: {last}).\n"
                    f"command: {' '.join(self.args)}\n--- stderr ---\n{self.output_tail()}")

    def kill(self) -> None:
        """Hard stop, for harness failures: the server and everything it started."""
        self._remember_tree()
        for pid, start in list(self.known.items()) + [(self.proc.pid, None)]:
            if _alive(pid, start):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        for pid in self.known:
            _reap(pid)
        self.stopped = True
        self._close_files()

    def _close_files(self) -> None:
        for f in (self._stdout, self._stderr):
            if not f.closed:
                f.close()

    def stop(self, expect_exit_zero: bool = True) -> None:
        """SIGTERM; assert exit 0 within 10 s and that nothing it started is left.
        With expect_exit_zero=False (a server that already failed) only the
        leftover-process check applies."""
        if self.stopped:
            return
        self.stopped = True
        self._remember_tree()
        if self.proc.poll() is None:
            try:
                status = self.status()
                pids = [item.get("pid") for item in status.get("instances", [])] + [status.get("templatePid")]
                for pid in pids:
                    if isinstance(pid, int) and pid > 0 and _alive(pid):
                        st = _stat(pid)
                        self.known.setdefault(pid, st[2] if st else None)
            except Exception:
                pass  # the status page is checked elsewhere; the /proc walk still applies
            self._remember_tree()
        problems = []
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                problems.append(f"did not exit within {STOP_TIMEOUT:.0f}s of SIGTERM")
                self.proc.kill()
                self.proc.wait(5)
        code = self.proc.returncode
        if code != 0 and not problems and expect_exit_zero:
            problems.append(f"exited with {code} after SIGTERM (expected 0)")
        # Children get a short grace period (PR_SET_PDEATHSIG is asynchronous).
        deadline = time.monotonic() + 3
        while True:
            for pid in self.known:
                _reap(pid)
            left = [pid for pid, start in self.known.items() if _alive(pid, start)]
            left += [pid for pid in processes_with_token(self.token) if pid not in left]
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        if left:
            described = []
            for pid in left:
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                except OSError:
                    cmd = "?"
                described.append(f"{pid}: {cmd.strip()}")
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            problems.append("left processes behind: " + "; ".join(described))
        self._close_files()
        if problems:
            pytest.fail("tidepool shutdown: " + "; ".join(problems) + f"\n--- stderr ---\n{self.output_tail()}")


def launch(app: str | Path, tmp: Path, **options) -> Tidepool:
    """Prepare a fixture project in `tmp`, start tidepool on it, wait until ready."""
    project = prepare_project(app, tmp)
    server = Tidepool(project, tmp / "logs", **options)
    return server.wait_ready()


@pytest.fixture
def tidepool(tmp_path):
    """Factory: `tidepool("example", instances=1, threads=8, start="fork")`.
    Every server it started is stopped (and checked) at teardown."""
    servers: list[Tidepool] = []
    counter = iter(range(1000))

    def factory(app: str | Path = "example", *, wait: bool = True, **options) -> Tidepool:
        tmp = tmp_path / f"server{next(counter)}"
        tmp.mkdir()
        project = prepare_project(app, tmp)
        server = Tidepool(project, tmp / "logs", **options)
        servers.append(server)
        return server.wait_ready() if wait else server

    yield factory
    errors = []
    for server in servers:
        try:
            server.stop()
        except BaseException as e:  # collect every server's failure, then report
            errors.append(str(e))
    if errors:
        pytest.fail("\n\n".join(errors))


@pytest.fixture(scope="module", params=START_MODES)
def start_mode(request):
    return request.param


def module_server(app: str, **options):
    """A module-scoped fixture serving `app` once per start mode."""

    @pytest.fixture(scope="module", params=START_MODES)
    def fixture(request, tmp_path_factory):
        tmp = tmp_path_factory.mktemp(f"{app}-{request.param}")
        server = launch(app, tmp, start=request.param, **options)
        yield server
        server.stop()

    return fixture


def json_of(response: requests.Response) -> dict:
    assert "json" in response.headers.get("content-type", ""), (
        f"expected JSON, got {response.status_code} {response.headers.get('content-type')}: {response.text[:500]}")
    return json.loads(response.content)


def raw_request(port: int, data: bytes, timeout: float = 10) -> tuple[int, list[tuple[str, str]], bytes]:
    """Send raw bytes as a request; parse one response with http.client."""
    import http.client
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        return response.status, response.getheaders(), body
