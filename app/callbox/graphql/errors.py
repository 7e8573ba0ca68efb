"""Errors whose message is meant for the API client; every other error is masked.

A resolver or the query layer raises one of these to tell the client what it did wrong.
Anything else raised while executing a field is an internal error: its message may carry
internals (SQL, paths), so the client sees "Unexpected error." and the log the real one.
"""

from __future__ import annotations

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
    """The database cannot be reached right now; retry shortly."""

    code = "DATABASE_UNAVAILABLE"


def should_mask(error: GraphQLError) -> bool:
    """Mask errors raised while executing fields, unless they are :class:`PublicError`.

    Errors without a path (syntax, validation, limits, variable coercion) describe the
    document the client sent and are kept as they are.
    """
    if error.path is None:
        return False
    return not isinstance(error.original_error, PublicError)
