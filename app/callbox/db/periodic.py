"""Database housekeeping on a timer, in the serving process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


async def run_every(seconds: float, step: Callable[[], Awaitable[object]], *, what: str) -> None:
    """Run ``step`` every ``seconds``, forever (until cancelled). A failure (the database may
    be away) is logged and the step tried again at the next tick."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await step()
        except Exception:
            logger.exception("%s failed; trying again in %g s", what, seconds)
