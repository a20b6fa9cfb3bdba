"""What the client sees when the app fails, and what `tidepool serve` does
with a project that cannot be served."""

import json
import os
import signal
import subprocess
import time

import pytest

from conftest import BINARY, Tidepool, _alive, free_port, prepare_project
from processes import group_alive
from waiting import wait_until

pytestmark = pytest.mark.timeout(60)

LEAK = "secret-marker-do-not-leak"


def assert_invocation_failed(r):
    assert r.status_code == 500, (r.status_code, r.text[:500])
    assert r.headers.get("x-tidepool-error") == "FUNCTION_INVOCATION_FAILED", r.headers
    assert "FUNCTION_INVOCATION_FAILED" in r.text
    assert "Traceback" not in r.text, r.text
    assert LEAK not in r.text, r.text


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from conftest import launch
    s = launch("wsgi_echo", tmp_path_factory.mktemp("failures"), instances=1, threads=4)
    yield s
    s.stop()


@pytest.mark.parametrize("path", ["/raw/raise", "/raw/str-body", "/raw/no-start-response",
                                  "/raw/bad-status", "/raw/not-iterable"])
def test_app_error_is_500_invocation_failed(server, path):
    assert_invocation_failed(server.get(path))


def test_exception_inside_iteration_before_first_chunk(server):
    # The generator raises before yielding anything: no byte was sent yet, so a clean 500 is possible.
    assert_invocation_failed(server.get("/raw/raise-in-iter"))


def test_traceback_goes_to_the_log(server):
    server.get("/raw/raise")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and LEAK not in server.stderr():
        time.sleep(0.05)
    log = server.stderr()
    assert "ValueError" in log and LEAK in log, "the app's traceback is not in the server log"


def test_server_survives_app_errors(server):
    for _ in range(3):
        server.get("/raw/raise")
    r = server.get("/echo")
    assert r.status_code == 200, r.text[:500]


def test_app_error_with_fresh_connection_after_keepalive(server):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", "/raw/raise")
        r = conn.getresponse()
        r.read()
        assert r.status == 500
        conn.request("GET", "/echo")
        r = conn.getresponse()
        r.read()
        assert r.status == 200
    finally:
        conn.close()


@pytest.mark.parametrize("mode", ["fork", "spawn"])
@pytest.mark.parametrize("app, exception", [("broken_import", "ModuleNotFoundError"),
                                            ("broken_raise", "BrokenAtImportError")])
def test_broken_project_exits_nonzero_quickly(tmp_path, app, exception, mode):
    project = prepare_project(app, tmp_path)
    server = Tidepool(project, tmp_path / "logs", instances=2, start=mode)
    try:
        code = server.proc.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()
        pytest.fail(f"tidepool kept running for 20 s with a project that cannot import.\n{server.output_tail()}")
    elapsed = time.monotonic() - server.started_at
    stderr = server.stderr()
    server.stop(expect_exit_zero=False)  # checks nothing was left behind
    assert code != 0
    assert exception in stderr, f"stderr does not name {exception}:\n{stderr[-3000:]}"
    assert elapsed < 20


def test_project_without_entrypoint(tmp_path):
    project = prepare_project("no_entrypoint", tmp_path)
    result = subprocess.run([str(BINARY), "serve", str(project), "--port", "1"], capture_output=True,
                            text=True, timeout=20)
    assert result.returncode != 0
    assert "main.py" in result.stderr and "app.py" in result.stderr, result.stderr


@pytest.mark.parametrize("command", ["serve", "build"])
def test_ctrl_c_during_the_build_command_stops_it(tmp_path, command):
    """Ctrl-C while `tidepool serve` or `tidepool build` runs the project's
    build command: the build, in a process group of its own (which a
    terminal's Ctrl-C does not reach), stops with tidepool instead of
    running on after it."""
    project = prepare_project("example", tmp_path)
    started = project / "build.pid"
    (project / "vercel.json").write_text(json.dumps(
        {"buildCommand": f"echo $$ > {started}.tmp && mv {started}.tmp {started} && sleep 300"}))
    args = [str(BINARY), command, str(project)] + (["--port", str(free_port())] if command == "serve" else [])
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    build = None
    try:
        wait_until(started.exists, 40, "the build command to start")
        build = int(started.read_text())
        assert _alive(build)
        proc.send_signal(signal.SIGINT)  # to tidepool alone, as a terminal's Ctrl-C reaches it
        assert proc.wait(10) == -signal.SIGINT
        # The shell and its `sleep` both (zombies not counted: the orphans' reaper is init's business).
        wait_until(lambda: not group_alive(build), 5, "every process of the build command to stop")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if build is not None and group_alive(build):
            os.killpg(build, signal.SIGKILL)
