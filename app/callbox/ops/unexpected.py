"""Logging an unexpected error (a bug, answered 500) with its traceback, but no values
(:mod:`callbox.tracebacks`). The route is named by its handler, not its path (a path may
hold a URL token).
"""

from __future__ import annotations

import logging

from litestar.types import Scope

from callbox.tracebacks import traceback_without_values

logger = logging.getLogger("callbox.errors")


def log_unexpected_error(error: BaseException, scope: Scope) -> None:
    handler = scope.get("route_handler")
    route = getattr(handler, "name", None) or getattr(handler, "handler_name", None) or "?"
    logger.error(
        "unexpected error in %s: %s\n%s",
        route,
        type(error).__name__,
        traceback_without_values(error),
        extra={"callbox_event": "unexpected_error", "error_class": type(error).__name__},
    )
