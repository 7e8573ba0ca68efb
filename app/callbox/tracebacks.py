"""Errors described for logs without their messages.

A message may quote what was being processed (a phone number, a body, a value a database
refused), which the logs must never hold; the type (with the SQLSTATE of a database error)
and the traceback's frames say where it failed. Used for every unexpected error Callbox logs:
HTTP handlers (:mod:`callbox.ops.unexpected`) and GraphQL fields and subscriptions
(:func:`callbox.graphql.errors.log_internal_error`).
"""

from __future__ import annotations

import traceback


def describe(error: BaseException) -> str:
    """``module.Class``, with ``(SQLSTATE …)`` for a database error; never the message."""
    name = f"{type(error).__module__}.{type(error).__qualname__}"
    sqlstate = getattr(error, "sqlstate", None)
    return f"{name} (SQLSTATE {sqlstate})" if isinstance(sqlstate, str) else name


def chain(error: BaseException) -> list[BaseException]:
    """``error``, then what it was raised from or while handling, and so on (each once)."""
    found: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and all(current is not seen for seen in found):
        found.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    return found


def traceback_without_values(error: BaseException) -> str:
    """The tracebacks of ``error`` and of its chain, oldest first, each ending with the
    error's :func:`describe`, never its message."""
    parts = [
        "Traceback (most recent call last):\n"
        + "".join(traceback.format_tb(exc.__traceback__))
        + describe(exc)
        + "\n"
        for exc in chain(error)
    ]
    return "\nwhich was raised while handling, or from:\n".join(reversed(parts))
