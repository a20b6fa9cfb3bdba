"""Helpers of LoadTests/bench-goals: the result table, the parsers of wrk,
server-timing and smaps_rollup output (checked by `bench-goals --self-test`),
and the servers it starts (the same command lines as bench-peers)."""

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


def goal_row(goal, value, base, unit, *, at_least, ref=None, fmt="{:.2f}", goal_ratio=1.0):
    """A row judging value / base against goal_ratio (`at_least`: >= passes, else <=).
    base is the limit itself (goal_ratio 1) or the peer or ideal the goal is a fraction of."""
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


def c1_p50_rounds(urls, out, rounds, duration):
    """wrk -t1 -c1 on each of `urls` ({name: url}) in turn, `rounds` times
    after a 1 s warm-up each: {name: [p50 in us, one per round]}."""
    for name, url in urls.items():
        wrk(url, out / f"latency-{name}-warmup.wrk", threads=1, connections=1, duration="1s", warmup=None)
    p50s = {name: [] for name in urls}
    for round_ in range(rounds):
        for name, url in urls.items():
            r = wrk(url, out / f"latency-{name}-{round_}.wrk", threads=1, connections=1, duration=duration, warmup=None)
            p50s[name].append(r["p50"] * 1e3)
    return p50s


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
    p50s = {name: [] for name in urls}
    for _ in range(rounds):
        for name, url in urls.items():
            p50s[name].append(paced_p50(url, count, gap))
    return p50s


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
