"""Bad input answered as BAD_USER_INPUT, and nothing the client sent in the error log.

Issue 16, items 9 and 10 (GraphQL): NUL characters and dates outside the years 1 to 9999
used to reach PostgreSQL or asyncpg and come back as a masked "Unexpected error." logged at
error level, with the document (phone numbers and all) quoted in the log line; names were
suggested ("Did you mean …?") with introspection off.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import pytest

from tests.graphql.support import Api, graphql_api

RECORD = """mutation($input: RecordOutboundMessageInput!) {
  recordOutboundMessage(input: $input) { created message { id } } }"""
PHONE = "447700900123"


def logged(caplog: pytest.LogCaptureFixture, level: int = logging.WARNING) -> str:
    """Everything the records at ``level`` and above would put in a log: message, extra
    fields, traceback."""
    formatter = logging.Formatter()
    texts = []
    for record in caplog.records:
        if record.levelno >= level:
            texts.append(formatter.format(record))
            texts.append(repr(record.__dict__))
    return "\n".join(texts)


def outbound(**fields: Any) -> dict[str, Any]:
    return {
        "input": {"receiver": "notify", "providerMessageId": "p-1", "to": "07700900123"} | fields
    }


def codes(document: dict[str, Any]) -> list[str]:
    assert document.get("errors"), document
    return [error.get("extensions", {}).get("code") for error in document["errors"]]


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        (RECORD, outbound(body="before\x00after")),
        (RECORD, outbound(providerMessageId="p\x001")),
        (RECORD, outbound(metadata={"key\x00": "value"})),
        (RECORD, outbound(metadata={"key": ["a", {"b": "c\x00"}]})),
        ("query($a: String!) { isOptedOut(address: $a) }", {"a": "+4477\x0000900123"}),
        ('{ isOptedOut(address: "+4477\\u000000900123") }', None),
        ('{ messages(filter: {bodyContains: "x\\u{0}"}) { totalCount } }', None),
        (
            "query($a: String) { conversations(filter: {address: $a}) { totalCount } }",
            {"a": "\x00"},
        ),
    ],
)
async def test_nul_characters_are_bad_user_input(
    api: Api,
    db: asyncpg.Connection,
    caplog: pytest.LogCaptureFixture,
    query: str,
    variables: dict[str, Any] | None,
) -> None:
    with caplog.at_level(logging.DEBUG):
        document = await api.post(query, variables)
    assert codes(document) == ["BAD_USER_INPUT"]
    assert "NUL" in document["errors"][0]["message"]
    assert logged(caplog) == ""
    assert await db.fetchval("SELECT count(*) FROM callbox_message") == 0


@pytest.mark.parametrize(
    "sent_at",
    [
        "0001-01-01T00:00:00+01:00",  # year 0 in UTC
        "9999-12-31T23:59:59-01:00",  # year 10000 in UTC
        "2026-02-30T10:00:00Z",
        "2026-13-01T10:00:00Z",
    ],
)
async def test_impossible_dates_in_mutation_input_are_bad_user_input(
    api: Api, db: asyncpg.Connection, caplog: pytest.LogCaptureFixture, sent_at: str
) -> None:
    with caplog.at_level(logging.DEBUG):
        document = await api.post(RECORD, outbound(sentAt=sent_at))
    assert codes(document) == ["BAD_USER_INPUT"], document
    assert logged(caplog) == ""
    assert await db.fetchval("SELECT count(*) FROM callbox_message") == 0


async def test_the_extreme_dates_themselves_are_accepted(api: Api) -> None:
    for n, sent_at in enumerate(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"]):
        data = await api.query(RECORD, outbound(providerMessageId=f"p-{n}", sentAt=sent_at))
        assert data["recordOutboundMessage"]["created"] is True


async def test_dates_outside_the_years_1_to_9999_in_filters_are_bad_user_input(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    queries = [
        '{ messages(filter: {since: "0001-01-01T00:00:00+01:00"}) { totalCount } }',
        '{ conversations(filter: {activeUntil: "9999-12-31T23:59:59-05:00"}) { totalCount } }',
        '{ stats(since: "0001-01-01T00:30:00+01:00") { total } }',
    ]
    with caplog.at_level(logging.DEBUG):
        for query in queries:
            document = await api.post(query)
            assert codes(document) == ["BAD_USER_INPUT"], document
            assert "outside the years 1 to 9999" in document["errors"][0]["message"]
    assert logged(caplog) == ""


async def test_internal_errors_are_logged_without_values_or_the_document(
    api: Api, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A real asyncpg error quoting the argument (as asyncpg and PostgreSQL do): the log says
    where and what kind, never the value nor the document around it."""
    from callbox.graphql.data.facade import CallboxData

    async def failing(self: CallboxData, address: str) -> bool:
        await self.sql.fetchval("SELECT $1::int", address)  # DataError quoting the address
        return False

    monkeypatch.setattr(CallboxData, "is_opted_out", failing)
    with caplog.at_level(logging.DEBUG):
        document = await api.post(f'{{ isOptedOut(address: "+{PHONE}") }}')
        variables = await api.post(
            "query($a: String!) { optedOut: isOptedOut(address: $a) }", {"a": f"+{PHONE}"}
        )
    assert (
        document["errors"][0]["message"]
        == variables["errors"][0]["message"]
        == ("Unexpected error.")
    )
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert len(errors) == 2
    text = logged(caplog)
    assert PHONE not in text
    assert "isOptedOut(" not in text  # the document
    assert "GraphQL field isOptedOut failed: asyncpg.exceptions.DataError" in text
    assert "GraphQL field optedOut failed" in text
    assert "in failing" in text  # the traceback's frames are kept


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("{ messagez { id } }", None),
        ("{ messages { nodes { bodi } } }", None),
        ('{ messages(filter: {recever: "notify"}) { totalCount } }', None),
        ("{ stats { series(bucket: DAYS) { count } } }", None),
        ("query($b: Bucket!) { stats { series(bucket: $b) { count } } }", {"b": "DAYS"}),
        (
            "query($f: MessageFilter) { messages(filter: $f) { totalCount } }",
            {"f": {"recever": "notify"}},
        ),
    ],
)
async def test_no_suggestions_with_introspection_off(
    db: asyncpg.Connection,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    query: str,
    variables: dict[str, Any] | None,
) -> None:
    async with graphql_api(database_url, monkeypatch) as api:
        (with_introspection,) = await api.errors(query, variables)
    assert "Did you mean" in with_introspection
    async with graphql_api(database_url, monkeypatch, introspection=False) as api:
        (without,) = await api.errors(query, variables)
    assert "Did you mean" not in without
    assert "receiver'" not in without and "'message'" not in without and "'DAY'" not in without
