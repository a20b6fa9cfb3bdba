#!/usr/bin/env python3
"""Soak (issue 7, item 8; a benchmark, not in CI): steady wrk load against a
running `tidepool serve`, killing an instance every --kill-every seconds, and
reporting the host's RSS and open fds at start and end, plus zombies and the
instances' fd counts after the recycling.

    tidepool serve examples/flask --port 3000 &
    LoadTests/soak/soak.py --url http://127.0.0.1:3000 --pid $! --seconds 300
"""

import argparse
import json
import os
import signal
import subprocess
import time
import urllib.request


def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return -1


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def children(pid):
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = open(f"/proc/{name}/stat").read()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) == pid:
                out.append((int(name), fields[0]))
    return out


def status(url):
    with urllib.request.urlopen(url + "/_tidepool/status", timeout=5) as r:
        return json.load(r)


def sample(url, pid):
    st = status(url)
    kids = children(pid)
    return {
        "hostRssKB": rss_kb(pid), "hostFds": fds(pid),
        "zombies": sum(1 for _, s in kids if s == "Z"),
        "instances": len(st["instances"]),
        "instanceFds": sorted(fds(i["pid"]) for i in st["instances"] if i.get("pid")),
    }


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--url", required=True)
    p.add_argument("--pid", type=int, required=True, help="pid of the tidepool host")
    p.add_argument("--seconds", type=int, default=300)
    p.add_argument("--path", default="/api/data")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--kill-every", type=float, default=20, help="SIGKILL one instance this often (0: never)")
    a = p.parse_args()

    # Warm up, so lazy allocations are not counted as growth.
    subprocess.run(["wrk", "-t2", f"-c{a.connections}", "-d5s", a.url + a.path], capture_output=True)
    start = sample(a.url, a.pid)
    print("start", json.dumps(start), flush=True)
    wrk = subprocess.Popen(["wrk", "-t2", f"-c{a.connections}", f"-d{a.seconds}s", "--latency", a.url + a.path],
                           stdout=subprocess.PIPE, text=True)
    kills = 0
    t0 = time.monotonic()
    next_kill = t0 + a.kill_every if a.kill_every else float("inf")
    while wrk.poll() is None:
        time.sleep(0.5)
        if time.monotonic() >= next_kill and time.monotonic() - t0 < a.seconds - 5:
            victim = status(a.url)["instances"][0]["pid"]
            os.kill(victim, signal.SIGKILL)
            kills += 1
            next_kill += a.kill_every
    report = wrk.stdout.read()
    time.sleep(3)  # let replacements become ready and zombies be reaped
    end = sample(a.url, a.pid)
    print("end  ", json.dumps(end), flush=True)
    print(f"instances killed: {kills}")
    print(report)


if __name__ == "__main__":
    main()
