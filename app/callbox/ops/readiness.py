"""Readiness: named checks that must all pass before a replica takes traffic.

The built-in checks are the database (one ``SELECT 1`` through the pool, with a short
timeout) and the migrations (none pending; once that is seen it is not asked again). Other
parts register their own, e.g. a NOTIFY listener::

    ops.readiness.register("listener", lambda: listener.check())

A check is an async callable that returns normally when ready and raises
:class:`NotReady` (or anything else, or times out) when not.

``/ready`` answers within the timeout whatever the database does: each check runs in a task
of its own that is left behind (cancelled, not awaited) when it overruns, because the
clean-up of a statement on a frozen server can itself wait; while a check's earlier run is
still winding down, it is reported not ready rather than started again.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from callbox.runtime import CallboxRuntime
from callbox.store.migrate import pending_migrations
from callbox.store.raw_requests import probe_write

CHECK_TIMEOUT_SECONDS = 2.0

ReadinessCheck = Callable[[], Awaitable[None]]


class NotReady(Exception):
    """A check's short, secret-free reason for not being ready."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


class ReadinessChecks:
    """The registry ``/ready`` runs, concurrently, each under a timeout."""

    def __init__(self, timeout_seconds: float = CHECK_TIMEOUT_SECONDS) -> None:
        self.timeout_seconds = timeout_seconds
        self._checks: dict[str, ReadinessCheck] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        """Runs that overran their timeout and have not finished winding down yet."""

    def register(self, name: str, check: ReadinessCheck) -> None:
        if name in self._checks:
            raise ValueError(f"a readiness check named {name!r} is already registered")
        self._checks[name] = check

    def unregister(self, name: str) -> None:
        self._checks.pop(name, None)

    @property
    def names(self) -> list[str]:
        return list(self._checks)

    async def run(self) -> list[CheckResult]:
        names = list(self._checks)
        results = await asyncio.gather(*(self._run_one(name) for name in names))
        return list(results)

    async def _run_one(self, name: str) -> CheckResult:
        earlier = self._running.get(name)
        if earlier is not None and not earlier.done():
            return CheckResult(name, False, "the previous check has not finished")
        task = asyncio.create_task(self._call(name), name=f"callbox-ready-{name}")
        try:
            done, _ = await asyncio.wait({task}, timeout=self.timeout_seconds)
            if not done:
                task.cancel()  # not awaited: its clean-up may wait on the database
                self._running[name] = task
                task.add_done_callback(_retrieve)
                raise TimeoutError
            task.result()
        except NotReady as reason:
            return CheckResult(name, False, str(reason))
        except TimeoutError:
            return CheckResult(name, False, f"no answer within {self.timeout_seconds:g} s")
        except Exception as error:  # an error's text may name hosts or users: class only
            return CheckResult(name, False, f"failed: {type(error).__name__}")
        return CheckResult(name, True, "ok")

    async def _call(self, name: str) -> None:
        await self._checks[name]()


def _retrieve(task: asyncio.Task[None]) -> None:
    """Consume a left-behind check's outcome (asyncio would log it as never retrieved)."""
    with contextlib.suppress(BaseException):
        task.result()


def database_check(runtime: CallboxRuntime) -> ReadinessCheck:
    """The database answers a query through the app's pool; and when the last write failed
    for lack of resources (disk full), a write rolled back succeeds again."""

    async def check() -> None:
        pool, store = runtime.pool, runtime.store
        if pool is None or store is None:
            raise NotReady("not started")
        timeout = min(store.limits.acquire_timeout, CHECK_TIMEOUT_SECONDS)
        async with pool.acquire(timeout=timeout) as connection:
            await connection.fetchval("SELECT 1", timeout=timeout)
        health = store.writer.health
        fault = health.resource_fault
        if fault is not None:
            try:
                await probe_write(pool, limit_seconds=timeout)
            except Exception as error:
                health.failed(error)
                raise NotReady(f"cannot store: {type(error).__name__}") from None
            health.succeeded()

    return check


def migrations_check(runtime: CallboxRuntime) -> ReadinessCheck:
    """No migration of this version is pending; cached once true (they never un-apply)."""
    current = False

    async def check() -> None:
        nonlocal current
        if current:
            return
        url = runtime.database_url
        if url is None:
            raise NotReady("database not started")
        pending = await pending_migrations(url)
        if pending:
            raise NotReady(f"{len(pending)} pending (run `callbox migrate`)")
        current = True

    return check


def apply_check(runtime: CallboxRuntime) -> ReadinessCheck:
    """This process keeps up applying what it stored: no more than ``[ingest]
    backlog_alert`` of its own stored callbacks wait (a process past it sheds new callbacks
    to the others; what it stored is applied whatever it reports)."""

    async def check() -> None:
        store = runtime.store
        if store is None:
            raise NotReady("not started")
        waiting, bound = store.applier.own_backlog, store.applier.backlog_alert
        if waiting > bound:
            raise NotReady(f"{waiting} stored callbacks wait to be applied (over {bound})")

    return check


def standard_checks(runtime: CallboxRuntime) -> ReadinessChecks:
    checks = ReadinessChecks()
    checks.register("database", database_check(runtime))
    checks.register("migrations", migrations_check(runtime))
    checks.register("apply", apply_check(runtime))
    return checks
