"""E-mail in GraphQL: filters by report kind, bounce type, opened and clicked; the history's
kinds, bounce types and details; subjects; opens and clicks in stats, confined like the rest.

The data arrives as Postmark callbacks over HTTP (one receiver) and Mailgun callbacks on a
second receiver, which a confined key does not see.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from callbox.settings import ApiKey, GraphQL, Receiver
from tests.support import callbox_client, settings_for

ADMIN, CONFINED = "admin-key-0123456789", "postmark-key-0123456789"


@pytest.fixture
async def client(db: asyncpg.Connection, database_url: str) -> AsyncIterator[AsyncTestClient[Any]]:
    graphql = GraphQL(
        api_keys=[
            ApiKey(name="admin", key=ADMIN, scopes=["read"]),
            ApiKey(name="postmark", key=CONFINED, scopes=["read"], receivers=["postmark"]),
        ]
    )
    receivers = [
        Receiver(name="postmark", provider="postmark", our_address="news@example.org"),
        Receiver(name="mailgun", provider="mailgun"),
    ]
    async with callbox_client(settings_for(database_url, receivers, graphql=graphql)) as client:
        yield client


async def postmark(client: AsyncTestClient[Any], **record: Any) -> None:
    response = await client.post("/hooks/postmark", json=record)
    assert response.status_code == 200, response.text


async def delivered(client: AsyncTestClient[Any], message: str, at: str) -> None:
    await postmark(
        client,
        RecordType="Delivery",
        MessageID=message,
        Recipient=f"{message}@example.com",
        DeliveredAt=at,
    )


async def bounce(
    client: AsyncTestClient[Any], message: str, bounce_type: str, at: str, bounce_id: int
) -> None:
    await postmark(
        client,
        RecordType="Bounce",
        ID=bounce_id,
        Type=bounce_type,
        MessageID=message,
        Email=f"{message}@example.com",
        BouncedAt=at,
        Details=f"{bounce_type} details",
        Subject=f"Subject of {message}",
        Inactive=False,
    )


async def engaged(client: AsyncTestClient[Any], record_type: str, message: str, at: str) -> None:
    await postmark(
        client,
        RecordType=record_type,
        MessageID=message,
        Recipient=f"{message}@example.com",
        ReceivedAt=at,
        OriginalLink="https://example.com/offer" if record_type == "Click" else None,
    )


async def scenario(client: AsyncTestClient[Any]) -> None:
    # m1: delivered, opened twice (out of order), clicked.
    await delivered(client, "m1", "2026-11-20T10:00:00Z")
    await engaged(client, "Open", "m1", "2026-11-20T12:00:00Z")
    await engaged(client, "Open", "m1", "2026-11-20T11:00:00Z")
    await engaged(client, "Click", "m1", "2026-11-20T11:30:00Z")
    # m2: a soft bounce, then delivered after the retry.
    await bounce(client, "m2", "SoftBounce", "2026-11-20T10:05:00Z", 1)
    await delivered(client, "m2", "2026-11-20T10:30:00Z")
    # m3: a hard bounce. m4: delivered, nothing more.
    await bounce(client, "m3", "HardBounce", "2026-11-20T10:10:00Z", 2)
    await delivered(client, "m4", "2026-11-21T09:00:00Z")
    # m5, on the other receiver: opened.
    mailgun_open = {
        "signature": {"timestamp": "1", "token": "t", "signature": "s"},
        "event-data": {
            "event": "opened",
            "id": "open-5",
            "timestamp": 1795000000,
            "recipient": "m5@example.com",
            "message": {"headers": {"message-id": "m5"}},
        },
    }
    response = await client.post("/hooks/mailgun", json=mailgun_open)
    assert response.status_code == 200, response.text


QUERY = """query($filter: MessageFilter) {
  messages(filter: $filter) { totalCount nodes { providerMessageId } } }"""


async def found(client: AsyncTestClient[Any], key: str = ADMIN, **filter_: Any) -> list[str]:
    response = await client.post(
        "/graphql",
        json={"query": QUERY, "variables": {"filter": filter_}},
        headers={"Authorization": f"Bearer {key}"},
    )
    document = response.json()
    assert "errors" not in document, document
    page = document["data"]["messages"]
    ids = [node["providerMessageId"] for node in page["nodes"]]
    assert page["totalCount"] == len(ids)
    return sorted(ids)


async def query(client: AsyncTestClient[Any], document: str, key: str = ADMIN) -> Any:
    response = await client.post(
        "/graphql", json={"query": document}, headers={"Authorization": f"Bearer {key}"}
    )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({"opened": True}, ["m1", "m5"]),
        ({"opened": False}, ["m2", "m3", "m4"]),
        ({"clicked": True}, ["m1"]),
        ({"clicked": False, "opened": True}, ["m5"]),
        ({"eventKind": "OPENED"}, ["m1", "m5"]),
        ({"eventKind": "CLICKED"}, ["m1"]),
        # m2 is delivered now: its deferral is still in its history.
        ({"eventKind": "DEFERRED"}, ["m2"]),
        ({"eventKinds": ["DEFERRED", "CLICKED"]}, ["m1", "m2"]),
        ({"eventKind": "STATUS"}, ["m1", "m2", "m3", "m4"]),
        ({"eventKinds": []}, []),
        ({"bounceType": "SOFT"}, ["m2"]),
        ({"bounceType": "HARD"}, ["m3"]),
        ({"bounceTypes": ["SOFT", "HARD"]}, ["m2", "m3"]),
        ({"bounceType": "BLOCKED"}, []),
        ({"bounceType": "SOFT", "status": "DELIVERED"}, ["m2"]),
        ({"opened": True, "receiver": "postmark"}, ["m1"]),
        ({"eventKind": "OPENED", "until": "2026-11-20T00:00:00Z"}, ["m5"]),
    ],
)
async def test_message_filters(
    client: AsyncTestClient[Any], filter_: dict[str, Any], expected: list[str]
) -> None:
    await scenario(client)
    assert await found(client, **filter_) == expected


async def test_a_confined_key_filters_only_its_receivers(client: AsyncTestClient[Any]) -> None:
    await scenario(client)
    assert await found(client, CONFINED, opened=True) == ["m1"]
    assert await found(client, CONFINED, eventKind="OPENED") == ["m1"]


async def test_history_kinds_bounce_types_and_details(client: AsyncTestClient[Any]) -> None:
    await scenario(client)
    data = await query(
        client,
        """{ messages(filter: {provider: "postmark"}) { nodes {
              providerMessageId status subject openedAt clickedAt
              events { kind status bounceType detail } } } }""",
    )
    nodes = {node.pop("providerMessageId"): node for node in data["messages"]["nodes"]}
    assert nodes["m1"]["openedAt"] == "2026-11-20T11:00:00+00:00"  # the first, not the last
    assert nodes["m1"]["clickedAt"] == "2026-11-20T11:30:00+00:00"
    assert [(e["kind"], e["status"]) for e in nodes["m1"]["events"]] == [
        ("STATUS", "DELIVERED"),
        ("OPENED", "DELIVERED"),
        ("CLICKED", "DELIVERED"),
        ("OPENED", "DELIVERED"),
    ]
    assert nodes["m1"]["events"][2]["detail"] == "https://example.com/offer"
    assert nodes["m2"] == {
        "status": "DELIVERED",
        "subject": "Subject of m2",
        "openedAt": None,
        "clickedAt": None,
        "events": [
            {"kind": "DEFERRED", "status": "SENT", "bounceType": "SOFT",
             "detail": "SoftBounce details"},
            {"kind": "STATUS", "status": "DELIVERED", "bounceType": None, "detail": None},
        ],
    }  # fmt: skip
    assert nodes["m3"]["status"] == "FAILED"
    assert nodes["m3"]["events"] == [
        {"kind": "STATUS", "status": "FAILED", "bounceType": "HARD", "detail": "HardBounce details"}
    ]


STATS = """{ stats(since: "2026-11-20T00:00:00Z", until: "2026-11-22T00:00:00Z") {
  total opened clicked
  series(bucket: DAY) { start count opened clicked } } }"""


async def test_stats_count_opened_and_clicked_messages(client: AsyncTestClient[Any]) -> None:
    await scenario(client)
    stats = (await query(client, STATS))["stats"]
    # m5 occurred on 2026-11-18 (1795000000): outside the window.
    assert (stats["total"], stats["opened"], stats["clicked"]) == (4, 1, 1)
    assert stats["series"] == [
        {"start": "2026-11-20T00:00:00+00:00", "count": 3, "opened": 1, "clicked": 1},
        {"start": "2026-11-21T00:00:00+00:00", "count": 1, "opened": 0, "clicked": 0},
    ]
    everything = (await query(client, "{ stats { total opened clicked } }"))["stats"]
    assert everything == {"total": 5, "opened": 2, "clicked": 1}
    confined = (await query(client, "{ stats { total opened clicked } }", CONFINED))["stats"]
    assert confined == {"total": 4, "opened": 1, "clicked": 1}


async def test_an_unknown_filter_value_is_refused(client: AsyncTestClient[Any]) -> None:
    response = await client.post(
        "/graphql",
        json={"query": QUERY, "variables": {"filter": {"eventKind": "READ"}}},
        headers={"Authorization": f"Bearer {ADMIN}"},
    )
    (error,) = response.json()["errors"]
    assert "READ" in error["message"]
    assert json.dumps(error["extensions"]).find("BAD_USER_INPUT") >= 0
