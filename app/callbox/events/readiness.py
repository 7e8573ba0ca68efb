"""The ``listener`` readiness check: this process's event listener is connected."""

from __future__ import annotations

from callbox.events.hub import EventHub
from callbox.ops.readiness import NotReady, ReadinessCheck


def listener_check(hub: EventHub) -> ReadinessCheck:
    """Register as ``ops.readiness.register("listener", listener_check(hub))``."""

    async def check() -> None:
        problem = hub.readiness_problem()
        if problem is not None:
            raise NotReady(problem)

    return check
