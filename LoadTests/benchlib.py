"""Helpers of LoadTests/bench-goals: the result table, the parsers of wrk,
server-timing and smaps_rollup output and their check (`self_test`, run by
`bench-goals --self-test`), the servers it starts (the same command lines as
bench-peers) and the rounds in which they take turns."""

import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP_DIR = "examples/flask"
TIDEPOOL = ROOT / ".build/release/tidepool"
VENV_BIN = ROOT / ".venv-bench/bin"
APP_PYTHON = ROOT / APP_DIR / ".venv/bin/python"
NAMES = ["throughput", "io", "cpu", "coldstart", "memory", "latency"]


def log(msg):
    print(f"\033[1m==> {msg}\033[0m", file=sys.stderr, flush=True)


# --- rows of the final table ---------------------------------------------------

ROWS = []  # (goal, figure, limit or peer, ratio, verdict)


def goal_row(goal, value, base, unit, *, at_least, ref=None, fmt="{:.2f}", goal_ratio=1.0, ratio=None):
    """A row judging value / base against goal_ratio (`at_least`: >= passes, else <=).
    base is the limit itself (goal_ratio 1) or the peer or ideal the goal is a fraction of.
    `ratio`, when given, is judged instead of value / base: the median of the
    ratios of rounds (`median_ratio`) when servers took turns."""
    if ratio is None:
        ratio = value / base if base else float("nan")
    ok = ratio >= goal_ratio if at_least else ratio <= goal_ratio
    op = ">=" if at_least else "<="
    ROWS.append((goal, f"{fmt.format(value)} {unit}", ref or f"{op} {fmt.format(base * goal_ratio)} {unit}",
                 f"{ratio:.3f}x ({op} {goal_ratio:.2f})", "PASS" if ok else "MISS"))


def info_row(goal, figure, ref="", ratio=""):
    ROWS.append((goal, figure, ref, ratio, "info"))


def table():
    head = ("goal", "figure", "limit / peer", "ratio", "result")
    widths = [max(len(str(r[i])) for r in [head, *ROWS]) for i in range(5)]
    line = lambda r: "| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |"
    return "\n".join([line(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, ROWS)])


# --- parsers (see --self-test) -------------------------------------------------

def to_ms(text):
    """wrk's latency value (812.00us, 1.23ms, 1.01s, 2.00m) in milliseconds."""
    for unit, scale in (("us", 1e-3), ("ms", 1.0), ("s", 1e3), ("m", 6e4)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * scale
    return float(text)


def parse_wrk(out):
    """req/s, p50/p90/p99 (ms) and errors from `wrk --latency` output."""
    r = {"errors": 0}
    for line in out.splitlines():
        f = line.split()
        if line.startswith("Requests/sec:"):
            r["rps"] = float(f[1])
        elif len(f) == 2 and f[0] in ("50%", "90%", "99%"):
            r["p" + f[0][:-1]] = to_ms(f[1])
        elif "Non-2xx or 3xx responses:" in line:
            r["errors"] += int(f[-1])
        elif line.strip().startswith("Socket errors:"):
            r["errors"] += sum(int(x.strip(",")) for x in f[3::2])
    if "rps" not in r or "p50" not in r:
        raise ValueError("unparsable wrk output:\n" + out)
    return r


def parse_server_timing(value):
    """{'cold-start': ms, 'fork': ms, 'first-call': ms, ...} from a server-timing value."""
    out = {}
    for entry in value.split(","):
        parts = [p.strip() for p in entry.split(";")]
        for p in parts[1:]:
            if p.startswith("dur="):
                out[parts[0]] = float(p[4:])
    return out


def parse_smaps_rollup(text):
    """kB fields of /proc/PID/smaps_rollup -> {'Rss': kB, 'Pss': kB, 'Uss': kB}."""
    kb = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) == 3 and f[2] == "kB":
            kb[f[0].rstrip(":")] = int(f[1])
    return {"Rss": kb.get("Rss", 0), "Pss": kb.get("Pss", 0),
            "Uss": kb.get("Private_Clean", 0) + kb.get("Private_Dirty", 0)}


def percentile(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


# --- servers -------------------------------------------------------------------

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_command(name, port, tidepool_args=("--instances", "2")):
    """The same command lines as bench-peers, one list per server."""
    host = ["127.0.0.1"]
    if name == "tidepool":
        return [str(TIDEPOOL), "serve", APP_DIR, "--host", *host, "--port", str(port), *tidepool_args]
    if name == "gunicorn-gthread":
        return [str(VENV_BIN / "gunicorn"), "-w", "2", "--threads", "8", "-b", f"127.0.0.1:{port}", "--chdir", APP_DIR, "main:app"]
    if name == "gunicorn-sync":
        return [str(VENV_BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "--chdir", APP_DIR, "main:app"]
    if name == "granian":
        return [str(VENV_BIN / "granian"), "--interface", "wsgi", "--workers", "2", "--host", *host,
                "--port", str(port), "--working-dir", APP_DIR, "main:app"]
    floor = shlex.quote(str(ROOT / "LoadTests/floor/floor_server.py"))
    python = shlex.quote(str(APP_PYTHON))
    if name == "floor-1proc":
        return ["sh", "-c", f"cd {APP_DIR} && exec {python} {floor} --tcp {port}"]
    if name == "floor-2proc":
        sock = f"/tmp/tidepool-floor-{port}.sock"
        return ["sh", "-c", f"cd {APP_DIR} && rm -f {sock} && {{ {python} {floor} --unix {sock} & }} && "
                f"exec {shlex.quote(str(FLOOR_PROXY))} {port} {sock}"]
    raise ValueError(name)


FLOOR_PROXY = ROOT / ".build-floor/floor_proxy"


def build_floor_proxy():
    """Compiles LoadTests/floor/floor_proxy.c (the C half of the floor-2proc server)."""
    FLOOR_PROXY.parent.mkdir(exist_ok=True)
    compiler = shutil.which("cc") or shutil.which("clang")  # clang comes with the Swift toolchain
    if compiler is None:
        raise RuntimeError("no C compiler (cc or clang) on PATH to build LoadTests/floor/floor_proxy.c")
    subprocess.run([compiler, "-O2", "-Wall", "-o", str(FLOOR_PROXY), str(ROOT / "LoadTests/floor/floor_proxy.c")],
                   check=True)


class Server:
    """One server in its own session; stopped (TERM, then KILL after 10 s) on exit."""

    def __init__(self, name, out, args=(), ready_path="/api/data"):
        self.name, self.port = name, free_port()
        self.cmd = server_command(name, self.port, *([args] if args else []))
        self.log_path = out / f"{name}-{self.port}.log"
        self.ready_path = ready_path

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self):
        log(f"{self.name}: {shlex.join(self.cmd)}")
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, stdin=subprocess.DEVNULL, start_new_session=True,
                                     stdout=open(self.log_path, "wb"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                with urllib.request.urlopen(self.url(self.ready_path), timeout=5) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        tail = self.log_path.read_text(errors="replace").splitlines()[-40:]
        raise RuntimeError(f"{self.name} did not start; its log:\n" + "\n".join(tail))

    def __exit__(self, *exc):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass

    def status(self):
        with urllib.request.urlopen(self.url("/_tidepool/status"), timeout=5) as r:
            return json.load(r)


def wrk(url, out_file, *, threads=2, connections=16, duration="8s", warmup="2s"):
    if warmup:
        subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{warmup}", url],
                       check=True, stdout=subprocess.DEVNULL)
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}", "--latency", url],
                         check=True, capture_output=True, text=True).stdout
    out_file.write_text(out)
    r = parse_wrk(out)
    log(f"  {url.split('/', 3)[-1]:<22} {r['rps']:>9.1f} req/s  p50 {r['p50']:.2f} ms  p99 {r['p99']:.2f} ms  errors {r['errors']}")
    return r


def wrk_rounds(urls, out, tag, rounds, duration, *, warmup, threads=2, connections=16):
    """wrk on each of `urls` ({name: url}, all servers up at once) in turn,
    `rounds` times, after one warm-up each: {name: [wrk result, one per round]}.
    On this shared machine the speed drifts by tens of percent within minutes
    (host CPU per request went from 90 to 150 us between two runs an hour
    apart), so servers measured one after the other, once each, compare
    moments as much as servers: compare them round by round (`median_ratio`)."""
    for name, url in urls.items():
        wrk(url, out / f"{tag}-{name}-warmup.wrk", threads=threads, connections=connections, duration=warmup, warmup=None)
    return take_turns(urls, rounds, lambda name, url, round_: wrk(
        url, out / f"{tag}-{name}-{round_}.wrk", threads=threads, connections=connections, duration=duration, warmup=None))


def take_turns(urls, rounds, measure):
    """`measure(name, url, round)` on each of `urls` in turn, `rounds` times:
    {name: [its result, one per round]}."""
    results = {name: [] for name in urls}
    for round_ in range(rounds):
        for name, url in urls.items():
            results[name].append(measure(name, url, round_))
    return results


def median_of(runs, key):
    """{name: the median of `key` over its rounds}."""
    return {name: statistics.median(r[key] for r in results) for name, results in runs.items()}


def median_ratio(runs, name, peer, key):
    """The median over rounds of name's `key` divided by peer's in the same round."""
    return statistics.median(a[key] / b[key] for a, b in zip(runs[name], runs[peer]))


def paced_p50(url, count, gap):
    """One keep-alive connection sending a GET every `gap` seconds (after the
    previous answer): the median time to the whole answer, in us. Low load
    as a user's app mostly sees it: the machine idles between requests, so
    every hop between processes is a wake-up, with caches gone cold."""
    parsed = urllib.parse.urlsplit(url)
    request = f"GET {parsed.path} HTTP/1.1\r\nHost: {parsed.netloc}\r\n\r\n".encode()
    times = []
    with socket.create_connection((parsed.hostname, parsed.port)) as conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(count):
            start = time.perf_counter_ns()
            conn.sendall(request)
            data = b""
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    raise RuntimeError(f"{url}: the server closed the connection")
                data += chunk
                end = data.find(b"\r\n\r\n")
                if end >= 0:
                    head = data[:end].lower()
                    length = int(head.split(b"content-length:")[1].split(b"\r\n")[0])
                    if len(data) >= end + 4 + length:
                        break
            times.append((time.perf_counter_ns() - start) / 1e3)
            time.sleep(gap)
    return statistics.median(times[count // 10:])  # the first tenth warms up


def paced_p50_rounds(urls, rounds, count, gap):
    """`paced_p50` on each of `urls` in turn, `rounds` times: {name: [p50 in us]}."""
    return take_turns(urls, rounds, lambda name, url, round_: paced_p50(url, count, gap))


def bench_peers(opts, out, *args):
    """LoadTests/bench-peers into OUT; returns results.tsv rows by server."""
    cmd = [str(ROOT / "LoadTests/bench-peers"), "--no-setup", "--out", str(out),
           "--duration", opts.duration, "--warmup", opts.warmup, *args]
    log(shlex.join(cmd))
    with open(out.parent / f"{out.name}.md", "w") as md:
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=md)
    rows = {}
    for line in (out / "results.tsv").read_text().splitlines():
        name, route, rps, p50, p99, errors = line.split("\t")
        rows[name] = {"route": route, "rps": float(rps), "p50": float(p50), "p99": float(p99), "errors": int(errors)}
    return rows


def side_by_side(opts, out, tag, names, route):
    """The servers `names` up together (tidepool with 2 instances), `wrk -t2
    -c16` on `route` of each in turn, 3 rounds (1 with --quick): {name: [wrk
    result per round]}. A ratio is the median of the rounds' ratios."""
    rounds = 1 if opts.quick else 3
    with contextlib.ExitStack() as stack:
        urls = {name: stack.enter_context(Server(name, out, ("--instances", "2") if name == "tidepool" else ())).url(route)
                for name in names}
        runs = wrk_rounds(urls, out, tag, rounds, opts.duration, warmup=opts.warmup)
    for name in names[1:]:
        log(f"  {names[0]} / {name} req/s per round: " + " ".join(
            f"{a['rps'] / b['rps']:.3f}" for a, b in zip(runs[names[0]], runs[name])))
    return runs


def self_test():
    """The parsers on canned input: cheap, no servers."""
    wrk_out = """Running 2s test @ http://127.0.0.1:1/api/data
  Latency Distribution
     50%  812.00us
     75%    1.10ms
     90%    2.50ms
     99%    1.01s
  1000 requests in 2.00s, 100.00KB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 4
Requests/sec:    500.25
"""
    r = parse_wrk(wrk_out)
    assert r == {"rps": 500.25, "p50": 0.812, "p90": 2.5, "p99": 1010.0, "errors": 9}, r
    t = parse_server_timing('cold-start;desc="fork";dur=4.7, fork;dur=2.8, '
                            'template-import;desc="shared by forks";dur=249.5, first-call;dur=18.9')
    assert t == {"cold-start": 4.7, "fork": 2.8, "template-import": 249.5, "first-call": 18.9}, t
    m = parse_smaps_rollup("55d0-7ffd ---p 00000000 00:00 0 [rollup]\nRss: 30100 kB\nPss: 9954 kB\n"
                           "Private_Clean: 10 kB\nPrivate_Dirty: 1868 kB\n")
    assert m == {"Rss": 30100, "Pss": 9954, "Uss": 1878}, m
    assert percentile([5, 1, 3, 2, 4], 0.9) == 5 and percentile([1, 2, 3], 0.5) == 2
    goal_row("x", 2.0, 1.0, "ms", at_least=False)
    goal_row("y", 1300, 1280, "req/s", at_least=True, fmt="{:.0f}", goal_ratio=0.95)
    goal_row("z", 1200, 1280, "req/s", at_least=True, fmt="{:.0f}", goal_ratio=0.95)
    # Rounds: ratios 1.0, 3.0, 0.5 (median 1.0), not the 2.0 of the medians.
    runs = {"a": [{"rps": 10}, {"rps": 30}, {"rps": 20}], "b": [{"rps": 10}, {"rps": 10}, {"rps": 40}]}
    assert median_of(runs, "rps") == {"a": 20, "b": 10} and median_ratio(runs, "a", "b", "rps") == 1.0
    goal_row("r", 20, 10, "req/s", at_least=True, goal_ratio=1.5, ratio=median_ratio(runs, "a", "b", "rps"))
    assert [row[4] for row in ROWS] == ["MISS", "PASS", "MISS", "MISS"], ROWS
    assert ROWS[1][2:4] == (">= 1216 req/s", "1.016x (>= 0.95)"), ROWS[1]
    assert ROWS[3][3] == "1.000x (>= 1.50)", ROWS[3]
    assert table().count("\n") == 5
    ROWS.clear()
    print("self-test ok")
