"""``CallboxPlugin``: Callbox's routes and lifecycle registered into a Litestar host app."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import cast

from litestar import Litestar, asgi
from litestar.config.app import AppConfig
from litestar.exceptions import NotFoundException
from litestar.handlers import ASGIRouteHandler
from litestar.plugins import InitPlugin
from litestar.types import ASGIApp as HostASGIApp
from litestar.types import Receive, Scope, Send

from callbox.embedding.asgi import ASGIApp
from callbox.embedding.instance import CallboxInstance, instance_for
from callbox.embedding.prefix import (
    DEFAULT_PREFIX,
    checked_prefix,
    routed_path,
    scope_in_mount,
)
from callbox.settings import Settings


class CallboxPlugin(InitPlugin):
    """Callbox's receivers, ``/graphql`` (HTTP and WebSocket), ``/health`` and ``/ready``
    under ``prefix`` in a Litestar host app, and its start and stop in the host's lifespan.

    Callbox starts before the host's own lifespan managers and ``on_startup`` hooks, and stops
    after them. Its routes are one mount at ``prefix``, served by Callbox's own Litestar app
    (the one ``CallboxMiddleware`` serves): the host's app-level middleware applies to it as
    to any route; the host's state, dependencies, logging and OpenAPI schema are left
    as they are. Its one middleware, first of the host's, gives a request to the mount back
    the path it was routed by (``/callbox/graphql``), which Litestar's router replaced with
    the path below the mount (``/graphql/``): the host's middleware and the server's access
    log see the request as it came.

    Example::

        app = Litestar(route_handlers=[...], plugins=[CallboxPlugin(settings)])

    Raises:
        ConfigError: a secret in the settings cannot be resolved.
        ValueError: the prefix is the root or not a plain path.
    """

    def __init__(self, settings: Settings, *, prefix: str = DEFAULT_PREFIX) -> None:
        self.prefix = checked_prefix(prefix)
        self._callbox = instance_for(settings)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.append(_mount(self._callbox, self.prefix))
        app_config.middleware.insert(0, _routed_path_restored)
        app_config.lifespan.insert(0, self._running)
        return app_config

    @contextlib.asynccontextmanager
    async def _running(self, _: Litestar) -> AsyncIterator[None]:
        async with self._callbox.running():
            yield


_PREFIX_OPT = "callbox_prefix"
"""The mount's ``opt`` key holding its prefix: how the middleware knows Callbox's requests."""


def _routed_path_restored(app: HostASGIApp) -> HostASGIApp:
    """The host's outermost app-level middleware: on a request to Callbox's mount, puts back
    the path the host's router routed (see :func:`routed_path`), before the host's middleware
    sees the scope and for the server's access log; other requests pass as they are."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler")
        prefix = handler.opt.get(_PREFIX_OPT) if handler is not None else None
        if prefix is not None:
            scope["path"] = routed_path(scope, prefix)  # type: ignore[arg-type]
        await app(scope, receive, send)

    return middleware


def _mount(callbox: CallboxInstance, prefix: str) -> ASGIRouteHandler:
    serve = cast(ASGIApp, callbox.app)

    @asgi(prefix, is_mount=True, copy_scope=False, name="callbox", opt={_PREFIX_OPT: prefix})
    async def callbox_mount(scope: Scope, receive: Receive, send: Send) -> None:
        inner = scope_in_mount(scope, prefix)  # type: ignore[arg-type]
        if inner is None:
            raise NotFoundException()
        await serve(inner, receive, send)  # type: ignore[arg-type]

    return callbox_mount
