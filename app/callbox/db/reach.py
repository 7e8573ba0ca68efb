"""Why a database cannot be reached, said in one line, with the URL's password masked.

Opening a connection fails in a handful of ways that are the operator's to fix (nothing
listens there, no such host, database or role, a wrong password, an unreadable URL); each
becomes :class:`DatabaseUnreachable`, which the command prints instead of a traceback.
"""

from __future__ import annotations

import contextlib
import re
import socket
import urllib.parse
from collections.abc import Iterator

import asyncpg

_PASSWORD_PARAMETER = re.compile(r"(?i)((?:^|&)password=)[^&]*")


class DatabaseUnreachable(Exception):
    """A connection to the database could not be opened; the message says why, in one line."""

    def __init__(self, url: str, problem: str) -> None:
        self.url = masked_url(url)
        self.problem = problem
        super().__init__(self.url, problem)

    def __str__(self) -> str:
        return f"cannot reach the database at {self.url}: {self.problem}"


def masked_url(url: str) -> str:
    """The URL with its password (in the user part or a ``password=`` parameter) as ``***``."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "(an unreadable URL)"
    netloc = parts.netloc
    if "@" in netloc:
        user_info, _, hosts = netloc.rpartition("@")
        user, colon, _ = user_info.partition(":")
        netloc = f"{user}{':***' if colon else ''}@{hosts}"
    query = _PASSWORD_PARAMETER.sub(r"\1***", parts.query)
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc, query=query))


def connect_problem(error: BaseException, url: str) -> str | None:
    """What stopped a connection from opening, or ``None`` for an error of another kind."""
    if isinstance(error, socket.gaierror):
        try:
            host = urllib.parse.urlsplit(url).hostname
        except ValueError:
            host = None
        return f"unknown host {host!r}" if host else "unknown host"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is PostgreSQL running, and listening there?)"
    if isinstance(error, TimeoutError):
        return "no answer in time ([database] connect_timeout_seconds)"
    if isinstance(error, asyncpg.PostgresError):
        # The server's own words: 'database "x" does not exist', 'role "x" does not exist',
        # 'password authentication failed for user "x"'.
        return str(error)
    if isinstance(error, OSError):
        return error.strerror or str(error) or type(error).__name__
    if isinstance(error, ValueError):
        # Not the parser's message: it may quote a part of the URL that holds the password.
        return "the URL cannot be read (expected postgresql://user:password@host:port/database)"
    return None


@contextlib.contextmanager
def naming_connect_failures(url: str) -> Iterator[None]:
    """Around opening connections: a failure to reach the database is DatabaseUnreachable."""
    try:
        yield
    except Exception as error:
        problem = connect_problem(error, url)
        if problem is None:
            raise
        raise DatabaseUnreachable(url, problem) from error


async def connect(url: str, *, connect_timeout: float) -> asyncpg.Connection[asyncpg.Record]:
    """``asyncpg.connect``, with a failure to reach the database named in one line."""
    with naming_connect_failures(url):
        return await asyncpg.connect(url, timeout=connect_timeout)


async def check_reachable(url: str, *, connect_timeout: float) -> None:
    """Open a connection and close it: DatabaseUnreachable if it cannot be opened."""
    connection = await connect(url, connect_timeout=connect_timeout)
    await connection.close()
