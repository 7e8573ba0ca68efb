"""/graphql over HTTP: methods, API keys, GraphiQL, limits, error masking, caches."""

from __future__ import annotations

import logging
import threading
from typing import Any

import asyncpg
import pytest

from callbox.graphql.auth import GraphQLAuth
from callbox.graphql.limits import CACHE_SIZE, MAX_ALIASES, MAX_BODY_BYTES, MAX_DEPTH
from tests.graphql.support import KEYS, Api, graphql_api

RECEIVERS = "{ receivers { name } }"


async def test_post_and_get_answer_queries(api: Api) -> None:
    posted = await api.query(RECEIVERS)
    got = await api.client.get(
        "/graphql", params={"query": RECEIVERS}, headers=api.headers("admin")
    )
    assert got.status_code == 200
    assert got.json()["data"] == posted == {"receivers": [{"name": "notify"}, {"name": "esendex"}]}


async def test_the_key_is_checked_on_the_event_loop_not_in_a_worker_thread(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Litestar runs a synchronous guard in a worker thread (a hand-off per request that
    costs more than the check: issue 19); the API key guard is async."""
    threads: list[str] = []
    principal_for = GraphQLAuth.principal_for

    def recording(self: GraphQLAuth, connection: Any) -> Any:
        threads.append(threading.current_thread().name)
        return principal_for(self, connection)

    monkeypatch.setattr(GraphQLAuth, "principal_for", recording)
    await api.query(RECEIVERS)
    # (the app runs in the test client's portal thread; worker threads are asyncio_N)
    assert len(threads) == 1 and threads[0].startswith("asyncio-portal"), threads


async def test_mutations_are_refused_over_get(api: Api) -> None:
    response = await api.client.get(
        "/graphql",
        params={"query": 'mutation { reprocessNotification(id: "1") { applied } }'},
        headers=api.headers("admin"),
    )
    assert response.status_code == 400
    assert "mutations are not allowed when using GET" in response.text


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "an API key is required"),
        ({"Authorization": "Bearer not-a-key"}, "unknown API key"),
        ({"Authorization": f"Basic {KEYS['admin']}"}, "use Authorization: Bearer"),
        ({"Authorization": "Bearer "}, "use Authorization: Bearer"),
    ],
)
async def test_missing_or_wrong_key_is_401(api: Api, headers: dict[str, str], detail: str) -> None:
    response = await api.client.post("/graphql", json={"query": RECEIVERS}, headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="callbox"'
    (error,) = response.json()["errors"]
    assert detail in error["message"]
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("key", ["admin", "reader", "esendex-only"])
async def test_each_secret_form_is_accepted(api: Api, key: str) -> None:
    """admin: the key itself; reader: sha256:<digest>; esendex-only: env:NAME."""
    assert await api.query(RECEIVERS, key=key)


async def test_a_read_only_key_cannot_mutate_and_a_write_only_key_cannot_read(api: Api) -> None:
    mutation = """mutation { recordOutboundMessage(input: {receiver: "notify",
        providerMessageId: "x", to: "07700900123"}) { created } }"""
    assert await api.errors(mutation, key="reader") == [
        "this API key does not have the write scope"
    ]
    assert await api.errors(RECEIVERS, key="writer") == [
        "this API key does not have the read scope"
    ]
    document = await api.post(RECEIVERS, key="writer")
    assert document["errors"][0]["extensions"] == {"code": "FORBIDDEN"}


async def test_development_instance_without_keys_is_open_on_loopback_only(
    db: asyncpg.Connection, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with graphql_api(database_url, monkeypatch, with_keys=False, development=True) as api:
        assert await api.query(RECEIVERS, key=None)
        recorded = await api.query(
            """mutation { recordOutboundMessage(input: {receiver: "notify",
                providerMessageId: "dev-1", to: "07700900123"}) { created } }""",
            key=None,
        )
        assert recorded == {"recordOutboundMessage": {"created": True}}
    async with graphql_api(
        database_url, monkeypatch, with_keys=False, development=True, peer="203.0.113.7"
    ) as api:
        response = await api.client.post("/graphql", json={"query": RECEIVERS})
        assert response.status_code == 401
        assert "loopback only" in response.json()["errors"][0]["message"]


async def test_keys_are_required_when_configured_even_in_development(
    db: asyncpg.Connection, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with graphql_api(database_url, monkeypatch, development=True) as api:
        response = await api.client.post("/graphql", json={"query": RECEIVERS})
        assert response.status_code == 401
        assert await api.query(RECEIVERS, key="reader")


async def test_production_without_keys_refuses_everyone(
    db: asyncpg.Connection, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with graphql_api(database_url, monkeypatch, with_keys=False) as api:
        response = await api.client.post("/graphql", json={"query": RECEIVERS})
        assert response.status_code == 401


HTML = {"Accept": "text/html"}


async def test_graphiql_is_served_in_development_only(
    db: asyncpg.Connection, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with graphql_api(database_url, monkeypatch, development=True) as api:
        page = await api.client.get("/graphql", headers=HTML)
        assert page.status_code == 200
        assert "graphiql" in page.text.lower()
        # The page itself needs no key, but it reads nothing without one.
        assert (await api.client.get("/graphql", params={"query": RECEIVERS})).status_code == 401
    async with graphql_api(database_url, monkeypatch) as api:
        assert (await api.client.get("/graphql", headers=HTML)).status_code == 401
        keyed = await api.client.get("/graphql", headers={**HTML, **api.headers("admin")})
        assert keyed.status_code == 404


async def test_graphiql_setting_overrides_the_default(
    db: asyncpg.Connection, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with graphql_api(database_url, monkeypatch, graphiql=True) as api:
        assert (await api.client.get("/graphql", headers=HTML)).status_code == 200
    async with graphql_api(
        database_url, monkeypatch, with_keys=False, development=True, graphiql=False
    ) as api:
        assert (await api.client.get("/graphql", headers=HTML)).status_code == 404


async def test_over_deep_queries_are_refused(api: Api) -> None:
    deep = """{ messages { edges { node { conversation { messages { edges { node {
        conversation { lastMessage { events { notification { id } } } } } } } } } } } }"""
    (message,) = await api.errors(deep)
    assert message == f"'anonymous' exceeds maximum operation depth of {MAX_DEPTH}"
    # The deepest useful query is within the limit.
    assert await api.query(
        """{ messages { edges { node { conversation { messages { edges { node {
            events { notification { id } } } } } } } } } }"""
    )


async def test_over_aliased_queries_are_refused(api: Api) -> None:
    aliases = " ".join(f"r{n}: receivers {{ name }}" for n in range(MAX_ALIASES + 1))
    (message,) = await api.errors(f"{{ {aliases} }}")
    assert message == f"{MAX_ALIASES + 1} aliases found. Allowed: {MAX_ALIASES}"


async def test_over_long_queries_are_refused(api: Api) -> None:
    fields = " ".join("name provider path" for _ in range(700))
    (message,) = await api.errors(f"{{ receivers {{ {fields} }} }}")
    assert message.startswith("Syntax Error: Document contains more than 2000 tokens.")


async def test_bodies_over_the_limit_are_refused_with_413(api: Api) -> None:
    padding = " " * (MAX_BODY_BYTES + 1)
    response = await api.client.post(
        "/graphql",
        content=('{"query": "{ receivers { name } }"' + padding + "}").encode(),
        headers={**api.headers("admin"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"


async def test_introspection_can_be_switched_off(
    db: asyncpg.Connection, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    introspection = "{ __schema { queryType { name } } }"
    async with graphql_api(database_url, monkeypatch) as api:
        assert await api.query(introspection) == {"__schema": {"queryType": {"name": "Query"}}}
    async with graphql_api(database_url, monkeypatch, introspection=False) as api:
        messages = await api.errors(introspection)
        assert messages[0].startswith("GraphQL introspection has been disabled")
        assert await api.query(RECEIVERS)


async def test_internal_errors_are_masked_and_public_ones_are_not(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The client sees its own mistakes and "Unexpected error." for Callbox's; the log has
    Callbox's at error level (where and what kind, not the message: it may quote values)
    and the client's below it."""
    from callbox.graphql.data.facade import CallboxData

    async def broken(self: CallboxData, address: str) -> bool:
        raise RuntimeError("SELECT secret FROM internals")

    monkeypatch.setattr(CallboxData, "is_opted_out", broken)
    with caplog.at_level(logging.DEBUG):
        document = await api.post('{ isOptedOut(address: "+447700900123") }')
    assert document["errors"][0]["message"] == "Unexpected error."
    assert "secret" not in str(document)
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].getMessage() == "GraphQL field isOptedOut failed: builtins.RuntimeError"
    assert errors[0].error_type == "builtins.RuntimeError"  # type: ignore[attr-defined]
    caplog.clear()

    with caplog.at_level(logging.DEBUG):
        document = await api.post('{ messages(after: "nonsense") { totalCount } }')
        await api.post("{ messages { nosuchfield } }")
    (error,) = document["errors"]
    assert error["message"] == "after: not a cursor of this list of messages"
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}
    assert not [record for record in caplog.records if record.levelno >= logging.WARNING]
    answered = [r.getMessage() for r in caplog.records if r.name == "callbox.graphql"]
    assert answered == [
        "GraphQL error answered to the client: BAD_USER_INPUT",
        "GraphQL error answered to the client: GRAPHQL_VALIDATION_FAILED",
    ]


async def test_parsed_and_validated_documents_are_cached(api: Api) -> None:
    from strawberry.extensions.parser_cache import _get_parse_cache

    from callbox.graphql.limits import validate_cached

    document = "{ receivers { name provider } }"
    await api.query(document)
    parsed, validated = (
        _get_parse_cache(CACHE_SIZE).cache_info().hits,
        validate_cached.cache_info().hits,
    )
    await api.query(document)
    await api.query(document, key="reader")
    assert _get_parse_cache(CACHE_SIZE).cache_info().hits == parsed + 2
    assert validate_cached.cache_info().hits == validated + 2


async def test_the_ides_introspection_query_is_within_the_limits(api: Api) -> None:
    from graphql import get_introspection_query

    query = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    data = await api.query(query)
    names = {entry["name"] for entry in data["__schema"]["types"]}
    assert {"Message", "Conversation", "MessageFilter"} <= names
