"""CPU time from ``/proc``: a server's process tree, and the PostgreSQL backends of one database.

A snapshot maps process ids to user + system CPU seconds (``/proc/<pid>/stat`` fields 14 and
15, all threads of the process). The difference between two snapshots is the CPU spent in
between by the processes present at the end; a process that started in between counts from
zero. A process that ended in between is lost, so snapshots are taken while the server (and
its pooled database connections) is still up.

PostgreSQL's backends are the processes serving the benchmark's database (``pg_stat_activity``
gives their pids; the harness's own connection is left out). The server-wide helpers
(WAL writer, checkpointer, background writer, autovacuum) are not counted: on a shared
machine they work for every database.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import asyncpg

TICKS = os.sysconf("SC_CLK_TCK")

Snapshot = dict[int, float]


def process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of one process, or None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command (field 2) is in parentheses and may hold spaces: split after its end.
    fields = stat[stat.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state): utime is field 14, stime field 15.
    return (int(fields[11]) + int(fields[12])) / TICKS


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return int(stat[stat.rindex(")") + 2 :].split()[1])


def process_tree(root: int) -> list[int]:
    """``root`` and every process descending from it (uvicorn's worker processes)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent = _parent(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    tree, stack = [], [root]
    while stack:
        pid = stack.pop()
        tree.append(pid)
        stack.extend(children.get(pid, []))
    return tree


def snapshot(pids: list[int]) -> Snapshot:
    taken: Snapshot = {}
    for pid in pids:
        seconds = process_cpu(pid)
        if seconds is not None:
            taken[pid] = seconds
    return taken


def spent(before: Snapshot, after: Snapshot) -> float:
    """CPU seconds spent between two snapshots by the processes in ``after``."""
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def server_snapshot(root: int) -> Snapshot:
    return snapshot(process_tree(root))


async def backend_pids(database_url: str) -> list[int]:
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await connection.close()
    return [row["pid"] for row in rows]


async def postgres_snapshot(database_url: str) -> Snapshot:
    return snapshot(await backend_pids(database_url))


@dataclass
class CpuMeter:
    """CPU of a server's process tree and of the database's backends between start and stop."""

    server_pid: int
    database_url: str
    server_before: Snapshot | None = None
    postgres_before: Snapshot | None = None
    server_seconds: float = 0.0
    postgres_seconds: float = 0.0

    async def start(self) -> None:
        self.server_before = server_snapshot(self.server_pid)
        self.postgres_before = await postgres_snapshot(self.database_url)

    async def stop(self) -> None:
        assert self.server_before is not None and self.postgres_before is not None
        self.server_seconds = spent(self.server_before, server_snapshot(self.server_pid))
        postgres_after = await postgres_snapshot(self.database_url)
        self.postgres_seconds = spent(self.postgres_before, postgres_after)

    def per_request_ms(self, requests: int) -> tuple[float, float]:
        """(server, PostgreSQL) CPU milliseconds per request."""
        if requests <= 0:
            return (float("nan"), float("nan"))
        return (
            self.server_seconds * 1000 / requests,
            self.postgres_seconds * 1000 / requests,
        )
