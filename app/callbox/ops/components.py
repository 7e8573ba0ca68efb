"""Everything the operations capability adds to an app, built once per ``create_app``.

Example (what ``create_app`` does)::

    ops = build_ops(runtime)
    Litestar(route_handlers=[..., *ops.route_handlers], middleware=ops.middleware,
             lifespan=[..., ops.lifespan])

``ops.readiness`` is where other parts register readiness checks and ``ops.metrics`` holds
the metric objects they record into (subscriptions, fan-out, listener reconnects).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from litestar import Litestar
from litestar.handlers import HTTPRouteHandler
from litestar.middleware import DefineMiddleware

from callbox.ops.health_routes import health_routes
from callbox.ops.metrics import CallboxMetrics, multiprocess_dir
from callbox.ops.metrics_route import metrics_routes, metrics_tokens
from callbox.ops.middleware import OpsMiddleware
from callbox.ops.purge_job import PurgeJob
from callbox.ops.readiness import ReadinessChecks, standard_checks
from callbox.runtime import CallboxRuntime
from callbox.store.retention import retention_policies

POOL_REFRESH_SECONDS = 5.0


@dataclass
class OpsComponents:
    runtime: CallboxRuntime
    readiness: ReadinessChecks
    metrics: CallboxMetrics
    route_handlers: list[HTTPRouteHandler]
    middleware: list[DefineMiddleware]
    purge_job: PurgeJob | None

    @contextlib.asynccontextmanager
    async def lifespan(self, _: Litestar) -> AsyncIterator[None]:
        """Runs inside the database lifespan: the pool is open."""
        async with contextlib.AsyncExitStack() as stack:
            store = self.runtime.store
            if store is not None:
                store.applier.listeners.append(self.metrics.record_applied)
                stack.callback(store.applier.listeners.remove, self.metrics.record_applied)
            if self.purge_job is not None:
                await stack.enter_async_context(self.purge_job.running())
            if multiprocess_dir() is not None:
                # Only the scraped worker refreshes at scrape time; keep the others current.
                await stack.enter_async_context(self._refreshing_pool_gauges())
            try:
                yield
            finally:
                self.metrics.process_exited()

    @contextlib.asynccontextmanager
    async def _refreshing_pool_gauges(self) -> AsyncIterator[None]:
        async def refresh() -> None:
            while True:
                self.metrics.refresh_pool(self.runtime.pool)
                await asyncio.sleep(POOL_REFRESH_SECONDS)

        task = asyncio.create_task(refresh(), name="callbox-pool-gauges")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def build_ops(runtime: CallboxRuntime) -> OpsComponents:
    settings = runtime.settings
    metrics = CallboxMetrics()
    readiness = standard_checks(runtime)
    routes = health_routes(readiness)
    if settings.metrics.enabled:
        tokens = metrics_tokens(settings.metrics.bearer)
        routes += metrics_routes(runtime, metrics, tokens)
    retention = settings.retention
    job = None
    if retention.purge_interval_minutes > 0:
        job = PurgeJob(
            runtime,
            retention_policies(settings),
            interval_seconds=retention.purge_interval_minutes * 60,
            batch_size=retention.batch_size,
        )
    return OpsComponents(
        runtime=runtime,
        readiness=readiness,
        metrics=metrics,
        route_handlers=routes,
        middleware=[
            DefineMiddleware(
                OpsMiddleware,
                metrics=metrics,
                log_every_callback=runtime.settings.logging.callbacks == "all",
            )
        ],
        purge_job=job,
    )
