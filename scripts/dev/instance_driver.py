#!/usr/bin/python3
"""Dev driver for the Tidepool instance process, without the host.

Speaks the host <-> instance wire protocol (Sources/TidepoolCore/Wire) in pure
Python (stdlib only), starts `tidepool _instance ...` and `tidepool _template ...`
with one end of a socketpair as fd 3, sends requests and checks the responses:

  * the native WSGI bridge (environ keys, PATH_INFO latin-1 round trip,
    repeated headers, wsgi.input), an app wrapped in wsgiref.validate, a Flask app
  * streaming (first chunk before the last is produced), write(), close()
  * 8 concurrent time.sleep(0.2) requests on 8 handler threads
  * every broken-app case (raise, non-iterable, str chunks, no start_response,
    bad status, CR/LF and non-latin-1 headers, start_response twice, too many
    bytes for Content-Length, failure after the head was sent, exc_info)
  * 1 MB POST body, multi-MiB response split into <= 1 MiB frames
  * cancel, drain, stats, channel close -> instance exits
  * template: ready, exactly 1 thread, forkInstance with SCM_RIGHTS, forked
    children serve, re-seeded random, reaping, control close -> template exits
  * start failures (ModuleNotFoundError traceback in `failed`, exit 1),
    malformed frame -> exit 2, template killed with its parent (PDEATHSIG)

Files: wire.py (the codec and a host-side Channel), apps/ (the test apps,
copied to a temp project directory per run).

Usage (build first: swift build --scratch-path .build-instance):
  /usr/bin/python3 scripts/dev/instance_driver.py [--tidepool PATH] [--venv DIR] [-k NAME]

--venv must be a venv made by /usr/bin/python3 with flask installed
(default /tmp/inst-venv:  /usr/bin/python3 -m venv /tmp/inst-venv &&
/tmp/inst-venv/bin/pip install flask). Exit status 0 when every check passed.
"""

import argparse
import hashlib
import json
import os
import socket
import struct
import subprocess
import sys
import shutil
import tempfile
import threading
import time

from wire import (K_CANCEL, K_DRAIN, K_FAILED, K_FORK, K_FORKED, K_READY, K_STATS, Channel, frame,
                  launch, tidepool_cmd)

# ---------------------------------------------------------------- checks

RESULTS = []


def check(name, cond, detail=""):
    RESULTS.append((name, bool(cond)))
    print(f"  {'ok  ' if cond else 'FAIL'} {name}" + (f"  [{detail}]" if detail else ""))
    return cond


def is_invocation_failed(r):
    return (r.status == 500 and r.header("x-tidepool-error") == "FUNCTION_INVOCATION_FAILED"
            and r.header("content-type") == "text/plain; charset=utf-8"
            and r.body.startswith(b"500: FUNCTION_INVOCATION_FAILED") and r.end["outcome"] == "complete")


def wait_exit(proc, timeout=3.0):
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def thread_count(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


def test_spawn(args, app_dir):
    print("== spawned instance (router app, 8 threads)")
    ch = launch(tidepool_cmd(args, "_instance", app_dir, "apps", "router", 8), "spawn")
    t, ready, _ = ch.wait_control(K_READY, timeout=20)
    spawn_ms = (t - ch.started_at) * 1000
    check("ready kind spawn, 8 threads, phases python-init+import",
          ready["kind"] == "spawn" and ready["threads"] == 8
          and [p for p, _ in ready["phases"]] == ["python-init", "import"],
          f"spawn start {spawn_ms:.0f} ms; phases " + ", ".join(f"{p}={n / 1e6:.1f}ms" for p, n in ready["phases"]))
    STATS["spawn_ms"] = spawn_ms

    # environ
    target = "/env/caf%C3%A9/%7Euser%2Fx?x=1&y=%20z"
    r = ch.request("GET", target, headers=[("Host", "localhost:3000"), ("X-Multi", "a"), ("X-Multi", "b"),
                                           ("Cookie", "a=1"), ("Cookie", "b=2"), ("User-Agent", "drv"),
                                           ("X_Smuggled", "no")])
    env = json.loads(r.body)
    check("environ: PATH_INFO latin-1 round trip of percent-decoded bytes",
          bytes.fromhex(env["PATH_INFO"]) == b"/env/caf\xc3\xa9/~user/x", bytes.fromhex(env["PATH_INFO"]))
    check("environ: QUERY_STRING raw", env["QUERY_STRING"] == "x=1&y=%20z")
    check("environ: repeated headers joined (', ' and Cookie '; ')",
          env.get("HTTP_X_MULTI") == "a, b" and env.get("HTTP_COOKIE") == "a=1; b=2")
    check("environ: header with '_' dropped", "HTTP_X_SMUGGLED" not in env)
    check("environ: no CONTENT_TYPE/CONTENT_LENGTH without headers",
          "CONTENT_TYPE" not in env and "CONTENT_LENGTH" not in env)
    want = {"REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "SERVER_NAME": "localhost", "SERVER_PORT": "3000",
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "REMOTE_PORT": "54321",
            "wsgi.url_scheme": "http", "wsgi.multithread": True, "wsgi.multiprocess": True,
            "wsgi.run_once": False, "wsgi.input_terminated": True, "wsgi.version": [1, 0],
            "wsgi.input": "BytesIO", "HTTP_HOST": "localhost:3000", "_errors_is_stderr": True}
    bad = {k: (env.get(k), v) for k, v in want.items() if env.get(k) != v}
    check("environ: required keys and wsgi.*", not bad, bad or "")
    r = ch.request("POST", "/env", headers=[("Content-Type", "text/plain"), ("Transfer-Encoding", "chunked")],
                   body=b"12345")
    env = json.loads(r.body)
    check("environ: CONTENT_LENGTH = body length when a body arrived",
          env.get("CONTENT_LENGTH") == "5" and env.get("CONTENT_TYPE") == "text/plain")

    # validator
    ok = True
    for method, body in [("GET", b""), ("HEAD", b""), ("POST", b""), ("POST", b"a=1&b=2"),
                         ("POST", os.urandom(1 << 20)), ("PUT", b"line1\nline2\n"), ("PATCH", b"p"),
                         ("DELETE", b""), ("OPTIONS", b"")]:
        headers = [("Content-Length", str(len(body)))] if body else []
        r = ch.request(method, "/validated/x%20y?q=1", headers=headers, body=body)
        if r.status != 200 or r.end["outcome"] != "complete":
            ok = False
            print(f"     {method} {len(body)}B -> {r.status} {r.body[:200]!r} logs: {ch.logs()[-1:]}")
            continue
        if method != "HEAD":
            got = json.loads(r.body)
            if got["len"] != len(body) or got["sha"] != hashlib.sha256(body).hexdigest() or got["path"] != "/validated/x y":
                ok = False
                print(f"     {method}: {got}")
    check("wsgiref.validate: GET HEAD POST(empty, small, 1 MB) PUT PATCH DELETE OPTIONS", ok)

    # 1 MB body in 16 KiB frames, echoed digest
    body = os.urandom(1 << 20)
    r = ch.request("POST", "/echo", headers=[("Content-Length", str(len(body)))], body=body, chunk=16 << 10)
    got = json.loads(r.body)
    check("1 MB POST body arrives whole", got["len"] == len(body) and got["sha"] == hashlib.sha256(body).hexdigest())

    # big response split
    r = ch.request("GET", "/big")
    check("3 MiB response split into <= 1 MiB frames",
          len(r.body) == 256 * (3 * 4096 + 7) and len(r.chunks) == 4 and max(len(b) for _, b in r.chunks) <= 1 << 20,
          f"{len(r.chunks)} body frames")

    # batching: a list body goes as head+body+end in one write
    r = ch.request("GET", "/env")
    check("list body: head + body + end arrive in one read", r.recv_counts == [3, 3, 3], r.recv_counts)

    # streaming
    r = ch.request("GET", "/stream")
    first, last = r.chunks[0][0], r.chunks[-1][0]
    check("streaming: first chunk arrives before the last is produced",
          len(r.chunks) == 3 and last - first > 0.25 and r.body == b"chunk 0\nchunk 1\nchunk 2\n",
          f"first->last {1000 * (last - first):.0f} ms")

    # write() and close()
    r = ch.request("GET", "/lazy")
    check("start_response called lazily inside the iterable", r.status == 202 and r.body == b"lazy")
    r = ch.request("GET", "/write")
    check("write() callable", r.status == 200 and r.body == b"hello world")
    before = int(ch.request("GET", "/closed").body)
    ch.request("GET", "/close")
    r_fail = ch.request("GET", "/close?fail")
    after = int(ch.request("GET", "/closed").body)
    check("close() called on success and on error", after - before == 2 and r_fail.end["outcome"] == "aborted",
          f"{after - before} closes")

    # concurrency
    t0 = time.monotonic()
    rs = [ch.start("GET", "/sleep") for _ in range(8)]
    for r in rs:
        r.done.wait(10)
    elapsed = time.monotonic() - t0
    names = {r.body for r in rs}
    STATS["overlap_s"] = elapsed
    check("8 x sleep(0.2) on 8 threads overlap", all(r.status == 200 for r in rs) and elapsed < 0.6,
          f"{elapsed * 1000:.0f} ms total, {len(names)} distinct threads")
    cpu_ms = [r.end["cpu"] / 1e6 for r in rs]
    wall_ms = [r.end["wall"] / 1e6 for r in rs]
    check("responseEnd carries thread CPU and wall ns",
          all(c < 50 for c in cpu_ms) and all(190 < w < 1000 for w in wall_ms),
          f"cpu max {max(cpu_ms):.2f} ms, wall {min(wall_ms):.0f}-{max(wall_ms):.0f} ms")

    # failures
    cases = ["/raises", "/non-iterable", "/yields-str", "/no-start-response", "/bad-status", "/crlf-header",
             "/non-latin1-header", "/twice", "/too-long"]
    for path in cases:
        n = len(ch.logs())
        r = ch.request("GET", path)
        logs = ch.logs()[n:]
        check(f"broken app {path} -> 500 FUNCTION_INVOCATION_FAILED + error log",
              is_invocation_failed(r) and logs and f"GET {path}" in logs[0],
              (logs[0].splitlines()[0][:110] if logs else f"status {r.status}, no log"))
    n = len(ch.logs())
    ch.request("GET", "/raises")
    check("raise: log has the traceback", "Traceback (most recent call last)" in ch.logs()[n]
          and "ValueError: the app is broken on purpose" in ch.logs()[n])
    r = ch.request("GET", "/fails-after-head")
    check("failure after the head was sent -> aborted end",
          r.status == 200 and r.body == b"first" and r.end["outcome"] == "aborted", r.end.get("reason"))
    r = ch.request("GET", "/exc-info-before-head")
    check("exc_info before head replaces the head", r.status == 503 and r.body == b"handled by the app")
    r = ch.request("GET", "/exc-info-after-head")
    check("exc_info after head re-raises -> aborted", r.body == b"partial" and r.end["outcome"] == "aborted",
          r.end.get("reason"))

    # cancel: running stream, and a queued request
    r = ch.start("GET", "/slow")
    time.sleep(0.2)
    ch.send(frame(K_CANCEL, r.id))
    r.done.wait(5)
    check("cancel a running request -> aborted 'cancelled', stops early",
          r.end and r.end["outcome"] == "aborted" and r.end["reason"] == "cancelled" and len(r.chunks) < 20,
          f"{len(r.chunks)} chunks")
    partial = ch.start("POST", "/echo", body=b"abc", end=False)
    ch.send(frame(K_CANCEL, partial.id))
    partial.done.wait(5)
    check("cancel a request still receiving its body", partial.end and partial.end["reason"] == "cancelled")

    # stats
    n = len(ch.control)
    _, stats, _ = ch.wait_control(K_STATS, timeout=2.5, after=n)
    check("stats every ~1 s", stats["rss"] > 10 << 20 and stats["cpu"] > 0,
          f"rss {stats['rss'] >> 20} MiB, cpu {stats['cpu'] / 1e6:.0f} ms, in flight {stats['in_flight']}")

    r = ch.request("GET", "/env")
    check("still serving after every failure", r.status == 200)

    # drain with a request in flight
    r = ch.start("GET", "/sleep")
    time.sleep(0.05)
    ch.send(frame(K_DRAIN, 0))
    r.done.wait(5)
    code = wait_exit(ch.proc)
    check("drain: in-flight request finishes, then exit 0", r.status == 200 and code == 0, f"exit {code}")


def test_spawn_flask_and_close(args, app_dir):
    print("== spawned Flask instance, channel close")
    ch = launch(tidepool_cmd(args, "_instance", app_dir, "flask_app", "app", 4), "flask-spawn")
    t, ready, _ = ch.wait_control(K_READY, timeout=20)
    STATS["flask_spawn_ms"] = (t - ch.started_at) * 1000
    r = ch.request("GET", "/api/data")
    check("Flask /api/data", r.status == 200 and json.loads(r.body) == {"ok": True, "items": [1, 2, 3]},
          f"spawn start {STATS['flask_spawn_ms']:.0f} ms")
    r = ch.request("POST", "/api/items/42?x=1", headers=[("Content-Type", "text/plain"), ("Content-Length", "2")],
                   body=b"hi")
    check("Flask POST with route arg, query, body",
          json.loads(r.body) == {"id": "42", "args": {"x": "1"}, "body": "hi"})
    r = ch.request("GET", "/nope")
    check("Flask 404", r.status == 404)
    r = ch.request("GET", "/api/data")
    check("Flask response (ClosingIterator + Content-Length) arrives in one read", r.recv_counts == [3, 3, 3],
          r.recv_counts)
    n = 500
    t0 = time.monotonic()
    for _ in range(n):
        ch.request("GET", "/api/data")
    seq = (time.monotonic() - t0) / n
    t0 = time.monotonic()
    pending = []
    for _ in range(n):
        pending.append(ch.start("GET", "/api/data"))
        if len(pending) >= 8:
            pending.pop(0).done.wait(5)
    for r in pending:
        r.done.wait(5)
    par = n / (time.monotonic() - t0)
    STATS["flask_seq_roundtrip_ms"] = seq * 1000
    STATS["flask_8_in_flight_req_per_s"] = par
    check("Flask throughput over the channel", True, f"sequential {seq * 1e6:.0f} us/request, 8 in flight {par:.0f} req/s")
    # close while a request is running: the instance must exit at once
    ch.start("GET", "/api/data")
    ch.close()
    t0 = time.monotonic()
    code = wait_exit(ch.proc)
    check("channel closed -> instance exits at once", code == 0, f"exit {code} in {1000 * (time.monotonic() - t0):.0f} ms")


def test_template(args, app_dir):
    print("== template (Flask), fork instances")
    ch = launch(tidepool_cmd(args, "_template", app_dir, "flask_app", "app", 4), "template")
    t, ready, _ = ch.wait_control(K_READY, timeout=20)
    STATS["template_ms"] = (t - ch.started_at) * 1000
    pid = ch.proc.pid
    check("template ready", ready["kind"] == "template" and ready["pid"] == pid,
          f"{STATS['template_ms']:.0f} ms; phases " + ", ".join(f"{p}={n / 1e6:.1f}ms" for p, n in ready["phases"]))
    check("template has exactly 1 thread", thread_count(pid) == 1, f"{thread_count(pid)} in /proc/{pid}/task")

    children, fork_ms = [], []
    for instance_id in (7, 8, 9):
        host_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        inst = Channel(host_end, f"fork-{instance_id}")
        n = len(ch.control)
        t0 = time.monotonic()
        socket.send_fds(ch.sock, [frame(K_FORK, instance_id)], [child_end.fileno()])
        child_end.close()
        _, forked, _ = ch.wait_control(K_FORKED, after=n)
        t1, cready, _ = inst.wait_control(K_READY)
        fork_ms.append((t1 - t0) * 1000)
        inst.pid = forked["pid"]
        children.append(inst)
        check(f"forkInstance({instance_id}) -> forked + child ready (kind fork)",
              cready["kind"] == "fork" and cready["pid"] == forked["pid"] and cready["threads"] == 4,
              f"{fork_ms[-1]:.1f} ms; phases " + ", ".join(f"{p}={n / 1e6:.2f}ms" for p, n in cready["phases"]))
        check("template still has 1 thread", thread_count(pid) == 1)
    STATS["fork_ms"] = fork_ms
    firsts = []
    for inst in children:
        t0 = time.monotonic()
        r = inst.request("GET", "/api/data")
        firsts.append((time.monotonic() - t0) * 1000)
        check(f"forked child {inst.pid} serves Flask", r.status == 200 and json.loads(r.body)["ok"] is True,
              f"first request {firsts[-1]:.1f} ms")
    STATS["fork_first_ms"] = firsts
    rands = {inst.request("GET", "/rand").body for inst in children}
    check("random re-seeded per child", len(rands) == len(children))

    # two forks back to back, descriptors not merged
    pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(2)]
    n = len(ch.control)
    socket.send_fds(ch.sock, [frame(K_FORK, 20)], [pairs[0][1].fileno()])
    socket.send_fds(ch.sock, [frame(K_FORK, 21)], [pairs[1][1].fileno()])
    for _, c in pairs:
        c.close()
    _, f20, i = ch.wait_control(K_FORKED, after=n)
    _, f21, _ = ch.wait_control(K_FORKED, after=i + 1)
    chans = [Channel(h, f"fork-{k}") for (h, _), k in zip(pairs, (20, 21))]
    ok = all(c.wait_control(K_READY)[1]["pid"] == f["pid"] for c, f in zip(chans, (f20, f21)))
    check("back-to-back forkInstance frames each get their own descriptor", ok)

    # fork without a descriptor -> failed, template keeps going
    n = len(ch.control)
    ch.send(frame(K_FORK, 30))
    _, failed, _ = ch.wait_control(K_FAILED, after=n)
    check("forkInstance without fd -> failed(fork), template alive",
          failed["phase"] == "fork" and ch.proc.poll() is None, failed["message"])

    # child exits when its channel closes, template reaps it
    victim = children[0]
    victim.close()
    time.sleep(1.5)
    state = None
    try:
        with open(f"/proc/{victim.pid}/stat") as f:
            state = f.read().split(") ")[1][0]
    except FileNotFoundError:
        pass
    check("closed child exits and is reaped (no zombie)", state is None, f"state {state}")
    r = children[1].request("GET", "/api/data")
    check("other children keep serving", r.status == 200)

    # host gone: template exits; children exit when their channels close
    ch.close()
    code = wait_exit(ch.proc)
    check("control socket closed -> template exits", code == 0, f"exit {code}")
    r = children[1].request("GET", "/api/data")
    check("forked children outlive the template while their channel is open", r.status == 200)
    for c in children[1:] + chans:
        c.close()


def test_failures(args, app_dir):
    print("== start failures")
    ch = launch(tidepool_cmd(args, "_instance", app_dir, "no_such_module", "app", 2), "bad-spawn")
    _, failed, _ = ch.wait_control(K_FAILED, timeout=20)
    code = wait_exit(ch.proc)
    check("spawn: missing module -> failed(import) with traceback, exit 1",
          failed["phase"] == "import" and "ModuleNotFoundError" in failed["message"]
          and "Traceback" in failed["message"] and code == 1, failed["message"].splitlines()[-1])
    ch = launch(tidepool_cmd(args, "_template", app_dir, "apps", "nope", 2), "bad-template")
    _, failed, _ = ch.wait_control(K_FAILED, timeout=20)
    code = wait_exit(ch.proc)
    check("template: missing attribute -> failed(import), exit 1", failed["phase"] == "import" and code == 1,
          failed["message"].splitlines()[0])
    ch = launch(tidepool_cmd(args, "_instance", app_dir, "apps", "router", 2), "malformed")
    ch.wait_control(K_READY, timeout=20)
    ch.send(struct.pack(">IBI", 5, 99, 0))
    code = wait_exit(ch.proc)
    check("malformed frame -> instance exits 2", code == 2, f"exit {code}")

    # PR_SET_PDEATHSIG: a template whose parent dies is killed by the kernel
    host_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    fd = child_end.fileno()
    cmd = tidepool_cmd(args, "_template", app_dir, "apps", "router", 2)
    parent = subprocess.Popen(["/bin/sh", "-c", f'"$@" 3<&{fd} {fd}<&- & echo $!; wait', "sh"] + cmd,
                              pass_fds=(fd,), stdout=subprocess.PIPE, text=True)
    child_end.close()
    template_pid = int(parent.stdout.readline())
    ch = Channel(host_end, "orphan-template")
    ch.wait_control(K_READY, timeout=20)
    parent.kill()
    parent.wait()
    gone = False
    for _ in range(40):
        try:
            with open(f"/proc/{template_pid}/stat") as f:
                if f.read().split(") ")[1][0] == "Z":
                    gone = True
                    break
        except FileNotFoundError:
            gone = True
            break
        time.sleep(0.05)
    check("template dies with its parent (PR_SET_PDEATHSIG) even with the channel open", gone)
    ch.close()

    ch = launch(tidepool_cmd(args, "_instance", app_dir, "apps", "closed", 2), "not-callable")
    _, failed, _ = ch.wait_control(K_FAILED, timeout=20)
    check("attribute not callable -> failed(import)", "not a WSGI callable" in failed["message"], failed["message"])
    wait_exit(ch.proc)


STATS = {}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tidepool", default=os.path.join(root, ".build-instance/debug/tidepool"))
    ap.add_argument("--venv", default="/tmp/inst-venv")
    ap.add_argument("-k", default="", help="run only tests whose name contains this")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="tp-driver-") as app_dir:
        for name in ("apps.py", "flask_app.py"):
            shutil.copy(os.path.join(here, "apps", name), app_dir)
        for test in (test_spawn, test_spawn_flask_and_close, test_template, test_failures):
            if args.k in test.__name__:
                try:
                    test(args, app_dir)
                except AssertionError as e:
                    check(f"{test.__name__} ran to the end", False, str(e))
    failed = [n for n, ok in RESULTS if not ok]
    print("\n== numbers")
    for k, v in STATS.items():
        print(f"  {k}: " + (", ".join(f"{x:.1f}" for x in v) if isinstance(v, list) else f"{v:.3f}"))
    print(f"\n{len(RESULTS) - len(failed)}/{len(RESULTS)} checks passed")
    for n in failed:
        print(f"  FAILED: {n}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
