"""optOuts, isOptedOut (latest ledger row decides), notification(id) and notifications."""

from __future__ import annotations

import base64
from typing import Any

import asyncpg
import pytest

from tests.graphql.support import Api
from tests.support import graphql_id


async def opt_out_scenario(api: Api) -> None:
    # Keyword replies through Esendex (they happen when received: now), and a provider push
    # with its own time, for another number.
    await api.esendex_inbound("k-1", sender="07700900123", text="STOP")
    await api.esendex_inbound("k-2", sender="07700900123", text="Start")
    await api.esendex_opt_out("push-1", phone="447700900777", at="2001-11-01T08:00:00Z")


async def test_opt_out_ledger_rows_with_their_message_and_notification(api: Api) -> None:
    await opt_out_scenario(api)
    data = await api.query(
        """{ optOuts { totalCount nodes { id address action channel provider receiver source
            text occurredAt receivedAt message { providerMessageId body }
            notification { receiver state } } } }"""
    )
    rows = data["optOuts"]["nodes"]
    assert data["optOuts"]["totalCount"] == 3
    assert [(r["address"], r["action"], r["source"]) for r in rows] == [
        ("+447700900123", "OPT_IN", "keyword"),
        ("+447700900123", "OPT_OUT", "keyword"),
        ("+447700900777", "OPT_OUT", "provider"),
    ]
    assert rows[0]["message"] == {"providerMessageId": "k-2", "body": "Start"}
    assert rows[0]["text"] == "Start"
    assert rows[2]["message"] is None
    assert rows[2]["occurredAt"] == "2001-11-01T08:00:00+00:00"
    assert {r["notification"]["receiver"] for r in rows} == {"esendex"}
    assert {(r["channel"], r["provider"], r["receiver"]) for r in rows} == {
        ("SMS", "esendex", "esendex")
    }


@pytest.mark.parametrize(
    ("opt_out_filter", "expected"),
    [
        ({"address": "+447700900123"}, ["OPT_IN", "OPT_OUT"]),
        ({"address": "447700900777"}, ["OPT_OUT"]),
        ({"address": "07700900777", "receiver": "esendex"}, ["OPT_OUT"]),
        ({"action": "OPT_OUT"}, ["OPT_OUT", "OPT_OUT"]),
        ({"receiver": "notify"}, []),
        ({"receivers": ["esendex"], "channel": "SMS"}, ["OPT_IN", "OPT_OUT", "OPT_OUT"]),
        ({"channel": "EMAIL"}, []),
        ({"until": "2001-11-02T00:00:00Z"}, ["OPT_OUT"]),
        ({"since": "2001-11-02T00:00:00Z"}, ["OPT_IN", "OPT_OUT"]),
    ],
)
async def test_opt_out_filters(
    api: Api, opt_out_filter: dict[str, Any], expected: list[str]
) -> None:
    await opt_out_scenario(api)
    data = await api.query(
        """query($f: OptOutFilter) { optOuts(filter: $f) { totalCount nodes { action } } }""",
        {"f": opt_out_filter},
    )
    assert [row["action"] for row in data["optOuts"]["nodes"]] == expected
    assert data["optOuts"]["totalCount"] == len(expected)


async def test_is_opted_out_follows_the_latest_row(api: Api) -> None:
    query = "query($a: String!) { isOptedOut(address: $a) }"
    assert await api.query(query, {"a": "+447700900123"}) == {"isOptedOut": False}
    await api.esendex_inbound("k-1", sender="07700900123", text="STOP")
    assert await api.query(query, {"a": "+447700900123"}) == {"isOptedOut": True}
    assert await api.query(query, {"a": "447700900123"}) == {"isOptedOut": True}
    await api.esendex_inbound("k-2", sender="07700900123", text="unstop")
    assert await api.query(query, {"a": "+447700900123"}) == {"isOptedOut": False}
    # A provider push that happened earlier but arrives later does not undo the later START.
    await api.esendex_opt_out("push-late", phone="447700900123", at="2001-01-01T00:00:00Z")
    assert await api.query(query, {"a": "+447700900123"}) == {"isOptedOut": False}
    await api.esendex_opt_out("push-2", phone="447700900777", at="2001-01-01T00:00:00Z")
    assert await api.query(query, {"a": "+447700900777"}) == {"isOptedOut": True}


NOTIFICATION = """id receiver provider state reason receivedAt processedAt clientAddress
    peerAddress method contentType headers queryString body bodyBase64 bodySize eventCount
    events { status providerStatus }"""


async def test_notifications_show_raw_requests_of_every_state(
    api: Api, db: asyncpg.Connection
) -> None:
    await api.notify_receipt("n-1", "delivered", at="2026-11-20T10:00:05.000000Z")
    await api.notify_receipt("n-1", "delivered", at="2026-11-20T10:00:05.000000Z")
    rejected = await api.client.post(
        "/hooks/esendex", content=b"<NotAThing/>", headers={"Content-Type": "application/xml"}
    )
    assert rejected.status_code == 400
    data = await api.query(f"{{ notifications {{ totalCount nodes {{ {NOTIFICATION} }} }} }}")
    rows = data["notifications"]["nodes"]
    assert data["notifications"]["totalCount"] == 3
    assert [row["state"] for row in rows] == ["REJECTED", "DUPLICATE", "ACCEPTED"]
    bad, duplicate, accepted = rows
    assert bad["receiver"] == "esendex"
    assert bad["reason"]
    assert bad["body"] == "<NotAThing/>"
    assert base64.b64decode(bad["bodyBase64"]) == b"<NotAThing/>"
    assert bad["events"] == []
    assert accepted["receiver"] == accepted["provider"] == "notify"
    assert accepted["method"] == "POST"
    assert accepted["contentType"] == "application/json"
    assert accepted["clientAddress"] == accepted["peerAddress"] == "127.0.0.1"
    assert "authorization" not in accepted["headers"]
    assert accepted["headers"]["content-type"] == "application/json"
    assert '"status": "delivered"' in accepted["body"]
    assert accepted["bodySize"] == len(accepted["body"])
    assert accepted["eventCount"] == 1
    assert accepted["events"] == [{"status": "DELIVERED", "providerStatus": "delivered"}]
    assert duplicate["events"] == []
    single = await api.query(f'{{ notification(id: "{accepted["id"]}") {{ {NOTIFICATION} }} }}')
    assert single["notification"] == accepted
    unknown = await graphql_id(db, "notification", 987654)
    assert await api.query(f'{{ notification(id: "{unknown}") {{ id }} }}') == {
        "notification": None
    }


@pytest.mark.parametrize(
    ("notification_filter", "expected"),
    [
        ({"receiver": "notify"}, ["DUPLICATE", "ACCEPTED"]),
        ({"receivers": ["esendex"]}, ["REJECTED"]),
        ({"state": "ACCEPTED"}, ["ACCEPTED"]),
        ({"states": ["ACCEPTED", "REJECTED"]}, ["REJECTED", "ACCEPTED"]),
        ({"since": "2000-01-01T00:00:00Z"}, ["REJECTED", "DUPLICATE", "ACCEPTED"]),
        ({"until": "2000-01-01T00:00:00Z"}, []),
    ],
)
async def test_notification_filters(
    api: Api, notification_filter: dict[str, Any], expected: list[str]
) -> None:
    await api.notify_receipt("n-1", "delivered", at="2026-11-20T10:00:05.000000Z")
    await api.notify_receipt("n-1", "delivered", at="2026-11-20T10:00:05.000000Z")
    await api.client.post("/hooks/esendex", content=b"<NotAThing/>")
    data = await api.query(
        """query($f: NotificationFilter) {
            notifications(filter: $f) { totalCount nodes { state } } }""",
        {"f": notification_filter},
    )
    assert [row["state"] for row in data["notifications"]["nodes"]] == expected
    assert data["notifications"]["totalCount"] == len(expected)


async def test_notification_pages(api: Api) -> None:
    for n in range(3):
        await api.notify_receipt(f"n-{n}", "delivered", at="2026-11-20T10:00:05.000000Z")
    query = """query($after: String) { notifications(first: 2, after: $after) {
        pageInfo { hasNextPage endCursor } nodes { eventCount body } } }"""
    page1 = (await api.query(query))["notifications"]
    assert len(page1["nodes"]) == 2 and page1["pageInfo"]["hasNextPage"]
    page2 = (await api.query(query, {"after": page1["pageInfo"]["endCursor"]}))["notifications"]
    assert len(page2["nodes"]) == 1 and not page2["pageInfo"]["hasNextPage"]
    assert '"id": "n-0"' in page2["nodes"][0]["body"]
