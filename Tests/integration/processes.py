"""What /proc says about the processes a server under test started: their
tree, whether one is still alive, and which carry a test's token. Used by the
harness (conftest.py) and by tests that check no process is left behind."""

from __future__ import annotations

import os

TOKEN_VARIABLE = "TIDEPOOL_INTEGRATION_TOKEN"


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (state first), or
    None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode("latin-1")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return raw[raw.rindex(")") + 2:].split()


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, ppid, starttime) of a process, or None if it is gone."""
    fields = _stat_fields(pid)
    return (fields[0], int(fields[1]), int(fields[19])) if fields else None


def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def descendants(root: int) -> dict[int, int]:
    """Every live descendant of `root`: pid -> starttime."""
    parent_of: dict[int, tuple[int, int]] = {}
    for pid in _all_pids():
        st = _stat(pid)
        if st and st[0] != "Z":
            parent_of[pid] = (st[1], st[2])
    found: dict[int, int] = {}
    frontier = {root}
    while frontier:
        children = {pid for pid, (ppid, _) in parent_of.items() if ppid in frontier and pid not in found}
        for pid in children:
            found[pid] = parent_of[pid][1]
        frontier = children
    return found


def _alive(pid: int, starttime: int | None = None) -> bool:
    st = _stat(pid)
    if st is None or st[0] in ("Z", "X"):
        return False
    return starttime is None or st[2] == starttime


def group_alive(pgid: int) -> bool:
    """True while a live (not zombie) process is in process group `pgid`."""
    for pid in _all_pids():
        fields = _stat_fields(pid)
        if fields and fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            return True
    return False


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def processes_with_token(token: str) -> list[int]:
    """Live processes whose environment carries the server's test token."""
    needle = f"{TOKEN_VARIABLE}={token}".encode()
    found = []
    for pid in _all_pids():
        if pid == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read()
        except OSError:
            continue
        if needle in env.split(b"\0") and _alive(pid):
            found.append(pid)
    return found


def live_children(pid: int) -> set[int]:
    """The live (not zombie) direct children of `pid`."""
    found = set()
    for child in _all_pids():
        st = _stat(child)
        if st and st[0] not in ("Z", "X") and st[1] == pid:
            found.add(child)
    return found
