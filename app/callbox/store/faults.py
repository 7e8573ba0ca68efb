"""Database faults: which errors mean "the database cannot take this now", of what kind, and
whether the store can write at all (for ``/ready``).

A fault is not the request's fault: the callback is answered 503 with a ``Retry-After`` chosen
by the kind (:data:`RETRY_AFTER_SECONDS`), and the provider retries. Whether the write
committed before the fault is not known (a connection can die after the commit and before the
answer), so a 503 never claims that nothing was stored: the retry is recognised as a duplicate.

Errors that are neither a fault nor a refused value (a missing function, a trigger raising a
plain exception...) are bugs: they are answered 500 and logged with their traceback.
"""

from __future__ import annotations

import enum
from contextlib import AbstractContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

import asyncpg


class FaultKind(enum.StrEnum):
    REFUSED = "refused"
    """No connection: refused, closed, lost mid-statement, server shutting down or starting."""
    TIMEOUT = "timeout"
    """No answer in time: statement or pool timeout, a frozen server, a partition."""
    RESOURCES = "resources"
    """The server is out of disk, memory or other resources (SQLSTATE class 53)."""
    SERVER = "server"
    """Another server-side fault (I/O error, internal error, operator intervention)."""


RETRY_AFTER_SECONDS: dict[FaultKind, int] = {
    FaultKind.REFUSED: 5,
    FaultKind.TIMEOUT: 30,
    FaultKind.RESOURCES: 120,
    FaultKind.SERVER: 30,
}
"""``Retry-After`` per kind: a refused connection is usually a restart or a failover, over in
seconds; a timeout means a server under strain or unreachable, and a full disk needs a person."""

NOT_STARTED_RETRY_AFTER_SECONDS = 5
"""``Retry-After`` while the process's database connection is starting or stopping."""


class DatabaseUnavailable(Exception):
    """The database could not take the request; whether it committed is not confirmed."""

    def __init__(self, kind: FaultKind, detail: str = "") -> None:
        super().__init__(detail or kind.value)
        self.kind = kind

    @property
    def retry_after(self) -> int:
        return RETRY_AFTER_SECONDS[self.kind]


def fault_kind(error: BaseException) -> FaultKind | None:
    """The kind of database fault ``error`` is, or ``None`` when it is not one."""
    if isinstance(error, DatabaseUnavailable):
        return error.kind
    if isinstance(error, TimeoutError | asyncpg.QueryCanceledError | asyncpg.LockNotAvailableError):
        return FaultKind.TIMEOUT
    if isinstance(
        error,
        asyncpg.TooManyConnectionsError
        | asyncpg.CannotConnectNowError
        | asyncpg.AdminShutdownError
        | asyncpg.CrashShutdownError
        | asyncpg.PostgresConnectionError
        | asyncpg.InterfaceError
        | asyncpg.InternalClientError
        | OSError,
    ):
        # InternalClientError: the protocol got into a state it cannot leave, e.g. "cannot
        # switch to state 15" when a connection released to the pool was closed by a fast
        # shutdown; the connection is gone either way.
        return FaultKind.REFUSED
    if isinstance(error, asyncpg.InsufficientResourcesError):
        return FaultKind.RESOURCES
    if isinstance(
        error,
        asyncpg.OperatorInterventionError
        | asyncpg.PostgresSystemError
        | asyncpg.InternalServerError
        | asyncpg.TransactionRollbackError,
    ):
        return FaultKind.SERVER
    return None


class _FaultsAsUnavailable:
    """The context manager of :func:`faults_as_unavailable` (a class: every callback enters
    it, and a generator-based one costs several times more)."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> Literal[False]:
        if not isinstance(error, Exception) or isinstance(error, DatabaseUnavailable):
            return False  # none, not an Exception (cancelled...), or already translated
        kind = fault_kind(error)
        if kind is None:
            return False
        raise DatabaseUnavailable(kind, type(error).__name__) from error


_FAULTS_AS_UNAVAILABLE = _FaultsAsUnavailable()


def faults_as_unavailable() -> AbstractContextManager[None]:
    """Raise a database fault met in the block as :class:`DatabaseUnavailable` (its class
    name only: the text of a database error may quote values); other errors pass as they
    are."""
    return _FAULTS_AS_UNAVAILABLE


@dataclass(frozen=True, slots=True)
class StoreLimits:
    """Time limits of the store's database work (``[database]`` settings)."""

    statement_timeout: float = 60.0
    """Every statement on the pool (the pool's command timeout)."""
    read_timeout: float = 10.0
    """GraphQL reads (lower: a read can be asked again, a callback is already waiting)."""
    acquire_timeout: float = 5.0
    """Waiting for a pooled connection."""
    callback_timeout: float = 75.0
    """A callback's whole wait for its write: then 503, whatever the database is doing."""


@dataclass
class WriteHealth:
    """Whether writes are failing for lack of resources (disk full): ``/ready`` says 503
    until a write succeeds again, so a replica that cannot store leaves the rotation."""

    resource_fault: str | None = None
    """The error class of the last write that failed for lack of resources."""

    def failed(self, error: BaseException) -> None:
        if fault_kind(error) is FaultKind.RESOURCES:
            self.resource_fault = type(error).__name__

    def succeeded(self) -> None:
        self.resource_fault = None
