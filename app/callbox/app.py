"""The standalone Litestar application (what ``callbox serve`` runs)."""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from typing import Any, TypeAlias

from litestar import Litestar
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.types import ControllerRouterHandler, Middleware, Scope

from callbox.graphql.controller import graphql_controller
from callbox.inbox import inbox_routes
from callbox.ingest.routes import receivers_router
from callbox.ops.components import build_ops
from callbox.ops.event_hub import attach_event_hub, run_event_hub
from callbox.ops.log_config import configure_logging
from callbox.ops.unexpected import log_unexpected_error
from callbox.runtime import CallboxRuntime, database_lifespan
from callbox.settings import Settings, load_settings, unauthenticated_receivers
from callbox.web.request_info import TRUSTED_PROXIES_STATE

logger = logging.getLogger(__name__)

LifespanManager: TypeAlias = Callable[[Litestar], AbstractAsyncContextManager[None]]


@dataclass(frozen=True)
class CallboxParts:
    """Everything one Callbox is made of, for one runtime.

    ``create_app`` puts these in a Litestar app of their own; ``CallboxMiddleware`` serves
    that app under a prefix beside any ASGI app, and ``CallboxPlugin`` mounts it under a
    prefix in a host's Litestar app. Whatever Callbox adds (routes, middleware, start and
    stop work) goes here, so every way of running it gets it: start and stop work as
    ``lifespan`` managers (entered in order, left in reverse), not as ``on_startup`` hooks.
    """

    route_handlers: list[ControllerRouterHandler]
    middleware: list[Middleware]
    lifespan: list[LifespanManager]
    state: dict[str, Any]
    """The app's state (keys prefixed ``callbox_``)."""


def callbox_parts(settings: Settings) -> CallboxParts:
    """Prepare Callbox's parts from typed settings (secrets are resolved now).

    Raises:
        ConfigError: a secret cannot be resolved (an ``env:`` variable is unset...).
    """
    runtime = CallboxRuntime.from_settings(settings)
    ops = build_ops(runtime)  # /health, /ready, /metrics, request ids, callback logs, purge job
    attach_event_hub(runtime, ops.readiness, ops.metrics)  # "listener" in /ready, its metrics

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

    store = runtime.store_provider()
    return CallboxParts(
        route_handlers=[
            receivers_router(runtime.receivers, store),
            graphql_controller(runtime.settings, runtime.receivers, runtime.events, store),
            *inbox_routes(settings),
            *ops.route_handlers,
        ],
        middleware=list(ops.middleware),
        lifespan=[lifespan, functools.partial(run_event_hub, runtime), ops.lifespan],
        state={TRUSTED_PROXIES_STATE: runtime.trusted_proxies},
    )


def litestar_app(parts: CallboxParts) -> Litestar:
    """Callbox's parts as a Litestar app of their own (routes at the root)."""
    return Litestar(
        route_handlers=parts.route_handlers,
        middleware=parts.middleware,
        lifespan=parts.lifespan,
        state=State(parts.state),
        openapi_config=None,
        # Litestar's own exception logging would log the request (path, maybe a URL
        # token); an unexpected error is logged by the hook instead, traceback included.
        logging_config=None,
        after_exception=[_log_unexpected],
    )


async def _log_unexpected(error: Exception, scope: Scope) -> None:
    if not isinstance(error, HTTPException):  # answers (401, 404, 413...) are not faults
        log_unexpected_error(error, scope)


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the Callbox application from typed settings (default: file and environment).

    Example::

        app = create_app(Settings(database=Database(url="postgresql://localhost/callbox")))

    It configures no logging; ``callbox serve`` does that for the processes it owns.
    """
    settings = settings if settings is not None else load_settings()
    return litestar_app(callbox_parts(settings))


@contextlib.asynccontextmanager
async def freeze_startup_heap(app: Litestar) -> AsyncIterator[None]:
    """Once everything has started, move what exists (modules, schema, settings, pool...)
    out of the garbage collector's reach. Without this every full collection walks those
    hundred thousand objects and stalls the process for 60-90 ms (docs/benchmarks.md);
    with it, about 1 ms. For a process of Callbox's own: a host application decides that
    for its own heap."""
    gc.collect()
    gc.freeze()
    yield


def app_from_environment() -> Litestar:
    """Factory for the server's workers: settings from CALLBOX_CONFIG and the environment.

    A standalone server: this (unlike ``create_app``) configures the process's logging and
    freezes its startup heap (:func:`freeze_startup_heap`).
    """
    settings = load_settings()
    configure_logging(settings)
    parts = callbox_parts(settings)
    return litestar_app(replace(parts, lifespan=[*parts.lifespan, freeze_startup_heap]))
