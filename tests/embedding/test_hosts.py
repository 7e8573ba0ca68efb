"""Callbox inside Starlette, FastAPI and Litestar hosts, served by uvicorn: it works under its
prefix, and the host's routes, middleware, lifespan and logging are as they are without it."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import httpx
import pytest

from callbox import Settings
from callbox.db.engine import DB
from tests.embedding.hosts import Host, HostLog, fastapi_host, litestar_host, starlette_host
from tests.embedding.scenario import check_callbox, check_host
from tests.embedding.support import (
    PREFIX,
    access_log_lines,
    assert_same_logging,
    embedded_settings,
    logging_snapshot,
    serve_asgi,
)
from tests.graphql.support import KEYS, NOTIFY_TOKEN, OUR_NUMBER


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


@pytest.mark.parametrize("kind", HOSTS)
async def test_the_host_sees_callbox_requests_at_their_own_paths(
    kind: str, db: asyncpg.Connection, database_url: str
) -> None:
    """The server's access log and the host's middleware see ``/callbox/graphql``, as the
    request had it, not the path below the prefix (a Litestar mount is given ``/graphql/``)."""
    host = Host()
    app = HOSTS[kind](host, embedded_settings(database_url))
    inbound = {
        "id": f"paths-{kind}",
        "source_number": "07700900123",
        "destination_number": OUR_NUMBER,
        "message": "paths",
        "date_received": "2026-11-20T10:00:00.000000Z",
    }
    with access_log_lines() as lines:
        async with serve_asgi(app, access_log=True) as base, httpx.AsyncClient() as http:
            hook = await http.post(
                f"{base}{PREFIX}/hooks/notify",
                json=inbound,
                headers={"Authorization": f"Bearer {NOTIFY_TOKEN}"},
            )
            assert hook.status_code == 200, hook.text
            query = await http.post(
                f"{base}{PREFIX}/graphql",
                json={"query": "{ messages { nodes { body } } }"},
                headers={"Authorization": f"Bearer {KEYS['admin']}"},
            )
            assert query.json() == {"data": {"messages": {"nodes": [{"body": "paths"}]}}}
            assert (await http.get(f"{base}/items/7")).status_code == 200
    paths = [f"{PREFIX}/hooks/notify", f"{PREFIX}/graphql", "/items/7"]
    requests = [line.split('"')[1] for line in lines]  # '<client> - "POST /path HTTP/1.1" 200'
    assert requests == [
        f"POST {paths[0]} HTTP/1.1",
        f"POST {paths[1]} HTTP/1.1",
        f"GET {paths[2]} HTTP/1.1",
    ]
    # Litestar runs its app-level middleware for Callbox's mount too; the other hosts have
    # CallboxMiddleware outside theirs.
    assert host.paths == (paths if kind == "litestar" else paths[2:])
