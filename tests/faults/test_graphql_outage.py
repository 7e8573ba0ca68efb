"""Item 8 of issue 20: while the database is down, GraphQL says so with a code a client can
act on. An operation that failed as a whole because the database cannot be reached is
answered ``503`` with ``Retry-After``, its errors carrying ``extensions.code =
"DATABASE_UNAVAILABLE"``; an operation that still answered some fields is a partial result
(``200``, GraphQL over HTTP), the failed fields carrying the same code. Before the database
connection has started (or once it has stopped) the answer is the same ``503``.

The database goes away for real: Callbox reaches it through a TCP proxy the test cuts.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from callbox.app import create_app
from tests.faults.support import ADMIN, fault_settings
from tests.support import database_proxy, graphql_id, served, through_proxy

pytestmark = pytest.mark.usefixtures("db")

MESSAGES = "{ messages(first: 5) { totalCount nodes { id } } }"
PARTIAL = '{ receivers { name } message(id: "%s") { id } }'  # % a message id


async def ask(http: httpx.AsyncClient, base: str, query: str) -> httpx.Response:
    return await http.post(f"{base}/graphql", json={"query": query}, headers=ADMIN)


def codes(document: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in document["errors"]]


async def test_a_query_the_database_cannot_answer_is_503_with_a_code_and_retry_after(
    database_url: str,
) -> None:
    with database_proxy(database_url) as proxy:
        settings = fault_settings(through_proxy(database_url, proxy))
        async with served(settings) as base, httpx.AsyncClient(timeout=20) as http:
            assert (await ask(http, base, MESSAGES)).status_code == 200
            connection = await asyncpg.connect(database_url)
            try:  # (ids are sealed with the instance key: any id this instance could show)
                message_id = await graphql_id(connection, "message", 1)
            finally:
                await connection.close()
            proxy.cut()

            whole = await ask(http, base, MESSAGES)
            assert whole.status_code == 503, whole.text
            assert whole.headers["retry-after"] == "5"  # a refused connection: soon
            assert whole.headers["content-type"].startswith("application/json")
            document = whole.json()
            assert document["data"] is None
            assert codes(document) == ["DATABASE_UNAVAILABLE"]
            assert "retry" in document["errors"][0]["message"]

            # GET answers queries the same way.
            got = await http.get(f"{base}/graphql", params={"query": MESSAGES}, headers=ADMIN)
            assert got.status_code == 503 and got.headers["retry-after"] == "5"
            assert codes(got.json()) == ["DATABASE_UNAVAILABLE"]

            # Some fields answered: a partial result, 200, the failed field with its code.
            partial = await ask(http, base, PARTIAL % message_id)
            assert partial.status_code == 200, partial.text
            assert "retry-after" not in partial.headers
            assert partial.json()["data"]["receivers"] == [{"name": "notify"}, {"name": "esendex"}]
            assert codes(partial.json()) == ["DATABASE_UNAVAILABLE"]

            proxy.restore()
            for _ in range(50):
                back = await ask(http, base, MESSAGES)
                if back.status_code == 200:
                    break
            assert back.status_code == 200, back.text
            assert "errors" not in back.json()


async def test_before_the_database_connection_starts_graphql_is_503_database_unavailable(
    database_url: str,
) -> None:
    """The app without its lifespan run: no database connection yet (as while starting)."""
    app = create_app(fault_settings(database_url))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://callbox") as http:
        response = await ask(http, "http://callbox", MESSAGES)
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "5"
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "DATABASE_UNAVAILABLE"
    assert "retry" in error["message"]
