"""Errors whose message is meant for the API client; every other error is masked.

A resolver or the query layer raises one of these to tell the client what it did wrong.
Anything else raised while executing a field is an internal error: its message may carry
internals (SQL, paths) or values the client sent, so the client sees "Unexpected error." and
the log where it failed (:func:`log_internal_error`), never the message or the document.
"""

from __future__ import annotations

import logging

from strawberry.types import ExecutionResult

from callbox.tracebacks import chain, describe, traceback_without_values
from graphql import GraphQLError


class PublicError(Exception):
    """An error the client may read; ``code`` lands in the error's ``extensions``."""

    code = "BAD_REQUEST"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        # graphql-core copies an original error's ``extensions`` dict into the response.
        self.extensions = {"code": self.code}


class InvalidInput(PublicError):
    """An argument that cannot be used: a bad id, cursor, page size, time zone…"""

    code = "BAD_USER_INPUT"


class Forbidden(PublicError):
    """The API key may not do this (missing scope, receiver outside its confinement)."""

    code = "FORBIDDEN"


class NotFound(PublicError):
    """Nothing with that id is visible to this API key (it may exist for another key)."""

    code = "NOT_FOUND"


class DatabaseTimeout(PublicError):
    """A read ran over ``[database] read_timeout_seconds`` (or found no free connection in
    time); it was cancelled. Ask again, or narrow the query."""

    code = "DATABASE_TIMEOUT"


class DatabaseUnavailable(PublicError):
    """The database cannot be reached right now; retry after ``retry_after`` seconds (an
    operation that failed as a whole for this is answered 503 with that ``Retry-After``)."""

    code = "DATABASE_UNAVAILABLE"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def unavailable_retry_after(result: ExecutionResult) -> int | None:
    """The ``Retry-After`` of an operation that failed as a whole because the database could
    not be reached (every error is :class:`DatabaseUnavailable`, no field has a value), or
    ``None`` when it answered something or failed for another reason."""
    if not result.errors:
        return None
    causes = [error.original_error for error in result.errors]
    if not all(isinstance(cause, DatabaseUnavailable) for cause in causes):
        return None
    if result.data is not None and any(value is not None for value in result.data.values()):
        return None
    return max(cause.retry_after for cause in causes if isinstance(cause, DatabaseUnavailable))


def should_mask(error: GraphQLError) -> bool:
    """Mask errors raised while executing fields, unless they are :class:`PublicError`.

    Errors without a path (syntax, validation, limits, variable coercion) describe the
    document the client sent and are kept as they are.
    """
    if error.path is None:
        return False
    return not isinstance(error.original_error, PublicError)


NUL_MESSAGE = "text arguments and variables must not contain NUL characters (\\u0000)"


def log_internal_error(logger: logging.Logger, what: str, error: BaseException) -> None:
    """Log an unexpected error at error level without quoting what the client sent.

    Neither the GraphQL document (graphql-core's ``str(error)`` prints the lines around the
    error's location, literals and all) nor exception messages are logged: both may carry
    phone numbers, message bodies or other payload values (asyncpg quotes the offending
    argument, PostgreSQL its value). What is logged is where it failed: the exception types
    (with the SQLSTATE of database errors) and the frames of their tracebacks.
    """
    logger.error(
        "%s: %s",
        what,
        " <- ".join(describe(exc) for exc in chain(error)),
        extra={
            "callbox_event": "graphql_internal_error",
            "error_type": describe(error),
            "stack": traceback_without_values(error),
        },
    )
