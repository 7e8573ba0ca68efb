"""How an app runs its event hub: a lifespan after the database's, the ``listener``
readiness check, and the operations metrics.

Example (what ``callbox_parts`` does)::

    attach_event_hub(runtime, ops.readiness, ops.metrics)
    lifespan = [database, functools.partial(run_event_hub, runtime), ops.lifespan]
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from callbox.events.hub import EventMetrics
from callbox.events.readiness import listener_check
from callbox.ops.readiness import ReadinessChecks
from callbox.runtime import CallboxRuntime


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
