"""The standalone Litestar application (what ``callbox serve`` runs)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, replace
from types import FrameType
from typing import Any, TypeAlias

from litestar import Litestar
from litestar.datastructures import State
from litestar.exceptions import HTTPException
from litestar.types import ControllerRouterHandler, Middleware, Scope

from callbox.events.hub import end_subscriptions_for_shutdown
from callbox.graphql.controller import graphql_routes
from callbox.inbox import inbox_routes
from callbox.ingest.fetcher import HttpsFetcher
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
    fetcher = HttpsFetcher(settings.outbound)  # for providers whose keys are fetched (SNS)
    return CallboxParts(
        route_handlers=[
            receivers_router(runtime.receivers, store, fetcher),
            *graphql_routes(runtime.settings, runtime.receivers, runtime.events, store),
            *inbox_routes(settings),
            *ops.route_handlers,
        ],
        middleware=list(ops.middleware),
        lifespan=[
            lifespan,
            functools.partial(run_event_hub, runtime),
            ops.lifespan,
            fetcher.lifespan,
        ],
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


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@contextlib.asynccontextmanager
async def end_subscriptions_on_stop_signal(app: Litestar) -> AsyncIterator[None]:
    """On SIGTERM or SIGINT, first end every subscription with ``SHUTTING_DOWN`` and its
    cursor, then hand the signal to the server's own handler (uvicorn's, which closes every
    WebSocket at once with 1012, long before the lifespans end). A second signal is handed
    on at once. For a process of Callbox's own: signal handlers belong to the process."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous: dict[int, Callable[[int, FrameType | None], Any] | int | None] = {
        signum: signal.getsignal(signum) for signum in STOP_SIGNALS
    }
    signalled: list[int] = []
    draining: list[asyncio.Task[None]] = []  # (a reference, so the task is not collected)

    def hand_on(signum: int, frame: FrameType | None) -> None:
        handler = previous[signum]
        if callable(handler):
            handler(signum, frame)
        elif handler == signal.SIG_DFL:
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)

    async def drain(signum: int, frame: FrameType | None) -> None:
        logger.info("stopping: ending subscriptions", extra={"callbox_event": "stopping"})
        try:
            await end_subscriptions_for_shutdown()
        finally:
            if len(signalled) == 1:  # (else a second signal was handed on already)
                hand_on(signum, frame)

    def start_draining(signum: int, frame: FrameType | None) -> None:
        draining.append(loop.create_task(drain(signum, frame)))

    def on_signal(signum: int, frame: FrameType | None) -> None:
        signalled.append(signum)
        if len(signalled) > 1:  # a second signal: no more waiting
            hand_on(signum, frame)
            return
        loop.call_soon_threadsafe(start_draining, signum, frame)

    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, on_signal)
    try:
        yield
    finally:
        for number, handler in previous.items():
            if signal.getsignal(number) is on_signal:
                signal.signal(number, handler)


def app_from_environment() -> Litestar:
    """Factory for the server's workers: settings from CALLBOX_CONFIG and the environment.

    A standalone server: this (unlike ``create_app``) configures the process's logging,
    freezes its startup heap (:func:`freeze_startup_heap`) and ends subscriptions with
    ``SHUTTING_DOWN`` on SIGTERM before the server closes WebSockets
    (:func:`end_subscriptions_on_stop_signal`).
    """
    settings = load_settings()
    configure_logging(settings)
    parts = callbox_parts(settings)
    lifespan = [*parts.lifespan, freeze_startup_heap, end_subscriptions_on_stop_signal]
    return litestar_app(replace(parts, lifespan=lifespan))
