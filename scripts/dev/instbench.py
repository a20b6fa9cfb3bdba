"""Instance CPU cost per request: launches `tidepool _instance` for
examples/flask over a socketpair (scripts/dev/wire.py), keeps `--window`
requests in flight, and prints the instance's CPU µs and context switches
per request (from /proc). Usage:
  /usr/bin/python3 scripts/dev/instbench.py --tidepool .build/release/tidepool --threads 8 --window 8 -n 20000
--per-thread adds each thread's context switches and CPU per request.
"""
import argparse
import glob
import os
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
sys.path.insert(0, here)
from wire import launch, tidepool_cmd, K_READY  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--tidepool", default=os.path.join(root, ".build/release/tidepool"))
ap.add_argument("--threads", type=int, default=8)
ap.add_argument("--window", type=int, default=8)
ap.add_argument("-n", type=int, default=20000)
ap.add_argument("--path", default="/api/data")
ap.add_argument("--per-thread", action="store_true", help="also print each thread's switches and CPU per request")
args = ap.parse_args()
app = os.path.join(root, "examples/flask")
args.venv = os.path.join(app, ".venv")
ch = launch(tidepool_cmd(args, "_instance", app, "main", "app", args.threads), "bench")
ch.wait_control(K_READY, timeout=20)
pid = ch.proc.pid


def cpu():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def switches():
    total = 0
    for status in glob.glob(f"/proc/{pid}/task/*/status"):
        try:
            for line in open(status):
                if line.endswith("ctxt_switches:\t" + line.split("\t")[-1]) and "ctxt_switches" in line:
                    total += int(line.split()[-1])
        except OSError:
            pass
    return total


hdrs = [("host", "x"), ("user-agent", "wrk"), ("accept", "*/*")]


def per_thread():
    """{tid: (voluntary switches, involuntary switches, CPU ticks)} of the instance's threads."""
    out = {}
    for status in glob.glob(f"/proc/{pid}/task/*/status"):
        tid = status.split("/")[4]
        try:
            fields = dict(line.rstrip("\n").split(":\t") for line in open(status) if "ctxt_switches" in line)
            stat = open(f"/proc/{pid}/task/{tid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[tid] = (int(fields["voluntary_ctxt_switches"]), int(fields["nonvoluntary_ctxt_switches"]),
                    int(stat[11]) + int(stat[12]))
    return out


def run(n):
    inflight = []
    for _ in range(n):
        if len(inflight) >= args.window:
            inflight.pop(0).done.wait(10)
        inflight.append(ch.start("GET", args.path, hdrs))
    for r in inflight:
        r.done.wait(10)


run(2000)
ch.responses.clear()
p0 = per_thread()
c0, s0, t0 = cpu(), switches(), time.monotonic()
run(args.n)
c1, s1, t1 = cpu(), switches(), time.monotonic()
p1 = per_thread()
print(f"threads={args.threads} window={args.window}: {args.n / (t1 - t0):.0f} req/s, "
      f"instance CPU {(c1 - c0) / args.n * 1e6:.1f} us/req, {(s1 - s0) / args.n:.2f} ctx switches/req")
if args.per_thread:
    # (The lowest tid is the main thread: stats and the read watch; the others are handlers.)
    for tid in sorted(p1, key=int):
        a, b = p0.get(tid, (0, 0, 0)), p1[tid]
        if a != b:
            print(f"  tid {tid}: {(b[0] - a[0]) / args.n:.3f} voluntary + {(b[1] - a[1]) / args.n:.3f} involuntary "
                  f"switches/req, CPU {(b[2] - a[2]) / os.sysconf('SC_CLK_TCK') / args.n * 1e6:.1f} us/req")
ch.close()
