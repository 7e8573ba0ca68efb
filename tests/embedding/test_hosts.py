"""Callbox inside Starlette, FastAPI and Litestar hosts, served by uvicorn: it works under its
prefix, and the host's routes, middleware, lifespan and logging are as they are without it."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import pytest

from callbox import Settings
from callbox.db.engine import DB
from tests.embedding.hosts import Host, HostLog, fastapi_host, litestar_host, starlette_host
from tests.embedding.scenario import check_callbox, check_host
from tests.embedding.support import (
    assert_same_logging,
    embedded_settings,
    logging_snapshot,
    serve_asgi,
)


@contextlib.contextmanager
def root_handler() -> Iterator[HostLog]:
    """A handler on the root logger, as a host's logging configuration would have (added
    after the host app is made: a Litestar app configures logging when it is made)."""
    handler = HostLog()
    logging.getLogger().addHandler(handler)
    try:
        yield handler
    finally:
        logging.getLogger().removeHandler(handler)


HOSTS: dict[str, Callable[[Host, Settings | None], Any]] = {
    "starlette": starlette_host,
    "fastapi": fastapi_host,
    "litestar": litestar_host,
}


@pytest.mark.parametrize("kind", HOSTS)
async def test_callbox_in_a_host_app(kind: str, db: asyncpg.Connection, database_url: str) -> None:
    build = HOSTS[kind]
    alone = Host()
    app = build(alone, None)
    with root_handler():
        async with serve_asgi(app) as base:
            answers_alone = await check_host(base)
            assert await check_host(base) == answers_alone
            logging_alone = logging_snapshot()

    embedded = Host()
    app = build(embedded, embedded_settings(database_url))
    with root_handler() as root:
        async with serve_asgi(app) as base:
            answers = await check_host(base)
            await check_callbox(base, db)
            assert await check_host(base) == answers
            logging_embedded = logging_snapshot()

    assert answers_alone["below lookalike"][0] == 404
    if kind == "litestar":
        # Litestar routes /callboxes/... to a mount at /callbox; Callbox answers the same 404
        # the host would, but from inside the route, so through the host's middleware.
        status, body, _ = answers.pop("below lookalike")
        assert (status, body) == answers_alone.pop("below lookalike")[:2]
    assert answers == answers_alone
    assert answers["home"] == (200, "home", "yes")
    assert answers["graphql"] == (200, "the host's own /graphql", "yes")
    # Callbox is up for the whole of the host's lifespan: started before, stopped after.
    assert alone.events == [("host started", False), ("host stopped", False)]
    assert embedded.events == [("host started", True), ("host stopped", True)]
    assert DB.pool is None
    # The host's logging is its own; Callbox's records reach the host's root handlers.
    assert_same_logging(logging_alone, logging_embedded)
    host_lines = [record.getMessage() for record in embedded.log.records]
    assert host_lines == [record.getMessage() for record in alone.log.records]
    assert host_lines[0] == "host started" and host_lines[-1] == "host stopped"
    assert any(
        record.name.startswith("callbox") and "without authentication" in record.getMessage()
        for record in root.records
    )
