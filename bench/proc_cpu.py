"""CPU time of process groups from ``/proc``: what a measurement cost the server, the database
and the clients, so that a figure survives a machine shared with others.

Not a bench itself: ``bench/scan_api.py`` and ``bench/sqlite_office.py`` import it as
``proc_cpu`` (the script's folder is first on ``sys.path``). Linux only.

A snapshot maps every visible pid to its parent, its command line and its CPU seconds
(user + system, all threads). A group's cost over a window is the sum over the pids in the
group at the end of the window of (end - start), a pid born inside the window counting from
zero. Processes that exit inside the window are lost: the benches keep their processes alive.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Proc:
    """One process as ``/proc`` shows it."""

    pid: int
    ppid: int
    cmdline: str
    cpu_s: float
    """User + system."""
    system_s: float


Snapshot = dict[int, Proc]


def _read(pid: int) -> Proc | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as stat:
            raw = stat.read()
        with open(f"/proc/{pid}/cmdline", "rb") as command:
            cmdline = command.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ")".
    fields = raw[raw.rindex(")") + 2 :].split()
    ppid, utime, stime = int(fields[1]), int(fields[11]), int(fields[12])
    return Proc(pid, ppid, cmdline, (utime + stime) / CLOCK_TICKS, stime / CLOCK_TICKS)


def self_cpu_s() -> float:
    """This process's CPU seconds (all its threads) from ``/proc/self/stat``."""
    own = _read(os.getpid())
    return own.cpu_s if own is not None else 0.0


def snapshot() -> Snapshot:
    """Every visible process now."""
    found: Snapshot = {}
    for name in os.listdir("/proc"):
        if name.isdigit() and (proc := _read(int(name))) is not None:
            found[proc.pid] = proc
    return found


def machine_busy_s() -> float:
    """CPU seconds all CPUs spent not idle since boot (``/proc/stat``; every user's work)."""
    with open("/proc/stat", encoding="utf-8") as stat:
        fields = [int(x) for x in stat.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


def spent(
    before: Snapshot, after: Snapshot, member: Callable[[Proc], bool], *, system: bool = False
) -> float:
    """CPU seconds the processes for which ``member`` holds spent between two snapshots (with
    ``system``: only the kernel's part)."""
    total = 0.0
    for pid, proc in after.items():
        if member(proc):
            earlier = before.get(pid)
            same = earlier is not None and earlier.cmdline.split()[:1] == proc.cmdline.split()[:1]
            if system:
                total += proc.system_s - (earlier.system_s if same and earlier else 0.0)
            else:
                total += proc.cpu_s - (earlier.cpu_s if same and earlier else 0.0)
    return total


def tree(root: int, procs: Snapshot) -> set[int]:
    """``root`` and all its descendants in ``procs``."""
    children: dict[int, list[int]] = {}
    for proc in procs.values():
        children.setdefault(proc.ppid, []).append(proc.pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, ()))
    return found


def postgres_backend_of(database: str) -> Callable[[Proc], bool]:
    """A PostgreSQL backend connected to ``database`` (its process title names it)."""

    def member(proc: Proc) -> bool:
        words = proc.cmdline.split()
        return proc.cmdline.startswith("postgres:") and database in words

    return member


def postgres_background(proc: Proc) -> bool:
    """The server's own processes (wal writer, checkpointer, background writer, autovacuum),
    shared by every database on the server: they do the commits' WAL flushing too."""
    words = proc.cmdline.split()
    if not words:
        return False
    if not proc.cmdline.startswith("postgres:"):
        return words[0].endswith("/postgres")  # the postmaster
    return not any("(" in word or word == "[local]" for word in words)


def in_pids(pids: Iterable[int]) -> Callable[[Proc], bool]:
    """Membership in a fixed set of pids."""
    chosen = frozenset(pids)
    return lambda proc: proc.pid in chosen
