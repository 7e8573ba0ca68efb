"""``CallboxMiddleware``: Callbox under a path prefix, beside any ASGI application."""

from __future__ import annotations

from typing import cast

from callbox.embedding.asgi import ASGIApp, Receive, Scope, Send
from callbox.embedding.instance import instance_for
from callbox.embedding.lifespan import relay_lifespan
from callbox.embedding.prefix import DEFAULT_PREFIX, checked_prefix, scope_under_prefix
from callbox.settings import Settings


class CallboxMiddleware:
    """Serve Callbox's receivers and ``/graphql`` (HTTP and WebSocket) under ``prefix``.

    Every other request goes to the wrapped app untouched. The ASGI lifespan starts Callbox
    (migrations if configured, connection pool, listener), then the wrapped app's lifespan;
    shutdown runs in reverse. Callbox configures no logging.

    Example::

        app = CallboxMiddleware(host_app, settings=Settings(...), prefix="/callbox")
        # Starlette / FastAPI: app.add_middleware(CallboxMiddleware, settings=..., prefix=...)

    Raises:
        ConfigError: a secret in the settings cannot be resolved.
        ValueError: the prefix is the root or not a plain path.
    """

    def __init__(self, app: ASGIApp, *, settings: Settings, prefix: str = DEFAULT_PREFIX) -> None:
        self.app = app
        self.prefix = checked_prefix(prefix)
        self._callbox = instance_for(settings)
        self._serve = cast(ASGIApp, self._callbox.app)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await relay_lifespan(self._callbox, self.app, scope, receive, send)
            return
        inner = scope_under_prefix(scope, self.prefix) if kind in ("http", "websocket") else None
        if inner is None:
            await self.app(scope, receive, send)
        else:
            await self._serve(inner, receive, send)
