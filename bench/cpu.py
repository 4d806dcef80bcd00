"""The CPU time a process tree has used, from /proc: gunicorn's master and its workers, read
before a measured wrk run and after its drain, give the server's CPU per request."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
CLOCK_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcessStat:
    parent: int
    # Ticks since boot when the process started: tells a reused pid from the process it had before.
    started: int
    # utime + stime: what the process itself spent, all its threads; children reaped show
    # only in cutime and cstime, which are left out (see tree_cpu).
    ticks: int


@dataclass(frozen=True)
class TreeCpu:
    seconds: float
    # Processes of the tree at the first reading gone at the second: their CPU since the first
    # reading is missing from `seconds`.
    vanished: int


def parse_stat(text: str) -> ProcessStat:
    # The command name (field 2) is in parentheses and may hold spaces and parentheses itself.
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 of proc(5): state; ppid is field 4, utime 14, stime 15, starttime 22.
    return ProcessStat(parent=int(fields[1]), started=int(fields[19]), ticks=int(fields[11]) + int(fields[12]))


def process_tree(root: int, proc: Path = PROC) -> dict[int, ProcessStat]:
    """The root process and all its descendants, by pid."""
    stats: dict[int, ProcessStat] = {}
    for path in proc.glob("[0-9]*/stat"):
        try:
            stats[int(path.parent.name)] = parse_stat(path.read_text())
        except (FileNotFoundError, ProcessLookupError):
            continue  # it exited while the others were read
    tree = {root: stats[root]} if root in stats else {}
    unvisited = [root]
    while unvisited:
        parent = unvisited.pop()
        for pid, stat in stats.items():
            if stat.parent == parent and pid not in tree:
                tree[pid] = stat
                unvisited.append(pid)
    return tree


def tree_cpu(before: dict[int, ProcessStat], after: dict[int, ProcessStat]) -> TreeCpu:
    """CPU seconds the tree used between two readings. A process that started in between counts
    whole; one that ended in between is counted as vanished rather than guessed at."""
    ticks = 0
    for pid, stat in after.items():
        earlier = before.get(pid)
        ticks += stat.ticks - earlier.ticks if earlier and earlier.started == stat.started else stat.ticks
    vanished = sum(1 for pid, stat in before.items() if pid not in after or after[pid].started != stat.started)
    return TreeCpu(seconds=ticks / CLOCK_TICKS_PER_SECOND, vanished=vanished)
