"""The standalone Litestar application (what ``callbox serve`` runs)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from litestar import Litestar
from litestar.datastructures import State

from callbox.graphql.controller import graphql_controller
from callbox.ingest.request_info import TRUSTED_PROXIES_STATE
from callbox.ingest.routes import receivers_router
from callbox.ops.components import build_ops
from callbox.ops.log_config import configure_logging
from callbox.runtime import RUNTIME_STATE, CallboxRuntime, database_lifespan
from callbox.settings import Settings, load_settings, unauthenticated_receivers

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the Callbox application from typed settings (default: file and environment)."""
    settings = settings if settings is not None else load_settings()
    runtime = CallboxRuntime.from_settings(settings)
    ops = build_ops(runtime)  # /health, /ready, /metrics, request ids, callback logs, purge job

    @contextlib.asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        open_receivers = unauthenticated_receivers(settings)
        if open_receivers:
            logger.warning(
                "receivers without authentication (anyone who can reach them can post): %s",
                ", ".join(open_receivers),
            )
        async with database_lifespan(runtime):
            yield

    return Litestar(
        route_handlers=[
            receivers_router(runtime.receivers),
            graphql_controller(runtime),
            *ops.route_handlers,
        ],
        middleware=ops.middleware,
        lifespan=[lifespan, ops.lifespan],
        state=_initial_state(runtime),
        openapi_config=None,
        logging_config=None,
    )


def _initial_state(runtime: CallboxRuntime) -> State:
    return State({RUNTIME_STATE: runtime, TRUSTED_PROXIES_STATE: runtime.trusted_proxies})


def app_from_environment() -> Litestar:
    """Factory for the server's workers: settings from CALLBOX_CONFIG and the environment.

    A standalone server: this (unlike ``create_app``) configures the process's logging.
    """
    settings = load_settings()
    configure_logging(settings)
    return create_app(settings)
