"""Callbox: receive messaging-provider callbacks, keep them raw, normalise them into Postgres,
serve them over GraphQL.

The public API is what this module exports (``__all__``); everything else is internal.

Example (embedded in an ASGI app; see docs/embedding.md)::

    import callbox

    settings = callbox.Settings(
        database=callbox.Database(url="postgresql://localhost/app"),
        receivers=[callbox.Receiver(name="notify", provider="notify",
                                    auth=callbox.Auth(bearer=["env:NOTIFY_TOKEN"]))],
    )
    app = callbox.CallboxMiddleware(host_app, settings=settings, prefix="/callbox")
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from callbox.settings import (
    ApiKey,
    Auth,
    ConfigError,
    Database,
    GraphQL,
    Inbox,
    Logging,
    Metrics,
    Receiver,
    Retention,
    Server,
    Settings,
    Subscriptions,
    load_settings,
)

__all__ = [
    "ApiKey",
    "Auth",
    "CallboxMiddleware",
    "CallboxPlugin",
    "ConfigError",
    "Database",
    "GraphQL",
    "Inbox",
    "Logging",
    "Metrics",
    "Receiver",
    "Retention",
    "Server",
    "Settings",
    "Subscriptions",
    "create_app",
    "lifespan",
    "load_settings",
]

if TYPE_CHECKING:
    from callbox.app import create_app
    from callbox.embedding.lifespan import lifespan
    from callbox.embedding.middleware import CallboxMiddleware
    from callbox.embedding.plugin import CallboxPlugin

# The web stack is imported on first use, so the command line (check-config, migrate...)
# starts fast.
_LAZY = {
    "CallboxMiddleware": "callbox.embedding.middleware",
    "CallboxPlugin": "callbox.embedding.plugin",
    "create_app": "callbox.app",
    "lifespan": "callbox.embedding.lifespan",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'callbox' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
