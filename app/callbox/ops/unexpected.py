"""Logging an unexpected error (a bug, answered 500) with its traceback, but no values.

The traceback's frames (files, lines, code) are logged; the error's message is not, nor are
those of the errors it was raised from: messages may quote what was being processed (a
phone number, a body, a value a database refused), which the logs must never hold. The route
is named by its handler, not its path (a path may hold a URL token).
"""

from __future__ import annotations

import logging
import traceback

from litestar.types import Scope

logger = logging.getLogger("callbox.errors")


def traceback_without_values(error: BaseException) -> str:
    """The traceback of ``error`` and of its causes, with each error's class but no message."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        stack = traceback.extract_tb(current.__traceback__)
        parts.append(
            "Traceback (most recent call last):\n"
            + "".join(stack.format())
            + f"{type(current).__module__}.{type(current).__qualname__}\n"
        )
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return "\nwhich was raised while handling, or from:\n".join(reversed(parts))


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
