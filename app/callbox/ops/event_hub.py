"""How an app runs its event hub: a lifespan after the database's, the ``listener``
readiness check (this process's event listener is connected), and the operations metrics.

Example (what ``callbox_parts`` does)::

    attach_event_hub(runtime, ops.readiness, ops.metrics)
    lifespan = [database, functools.partial(run_event_hub, runtime), ops.lifespan]
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from callbox.events.hub import EventHub, EventMetrics
from callbox.ops.readiness import NotReady, ReadinessCheck, ReadinessChecks
from callbox.runtime import CallboxRuntime

LISTENER_WAIT_SECONDS = 1.0
"""How long the check waits for a reconnect it asked for (within the check's 2 s)."""


def listener_check(hub: EventHub) -> ReadinessCheck:
    """Register as ``ops.readiness.register("listener", listener_check(hub))``."""

    async def check() -> None:
        # A reconnect waiting out its backoff tries now: once the database is back,
        # /ready is 200 at the first probe rather than after the backoff.
        problem = await hub.readiness_problem_now(LISTENER_WAIT_SECONDS)
        if problem is not None:
            raise NotReady(problem)

    return check


def attach_event_hub(
    runtime: CallboxRuntime, readiness: ReadinessChecks, metrics: EventMetrics
) -> None:
    """Register "listener" with ``/ready`` and record into the operations metrics."""
    runtime.events.record_into(metrics)
    readiness.register("listener", listener_check(runtime.events))


@contextlib.asynccontextmanager
async def run_event_hub(runtime: CallboxRuntime, _: object = None) -> AsyncIterator[None]:
    """Listen and fan out while the block runs; enter it inside the database's lifespan."""
    hub, url, pool = runtime.events, runtime.database_url, runtime.pool
    if url is None or pool is None:
        raise RuntimeError("the database must be started before the event hub")
    async with hub.running(url, pool):
        yield
