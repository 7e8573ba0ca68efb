"""SendGrid end to end: HTTP in, PostgreSQL, GraphQL out; the signed Event Webhook verified
with sendgrid-python's test vector, posted byte for byte (its trailing CRLF included)."""

from __future__ import annotations

import base64
import json
import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from callbox.providers.sendgrid import PROVIDER, SIGNATURE_HEADER, TIMESTAMP_HEADER
from callbox.receivers import prepare_receiver
from callbox.settings import ApiKey, Auth, GraphQL, Receiver, settings_from_mapping
from tests.providers.test_sendgrid import SDK_BODY, SDK_PUBLIC_KEY, SDK_SIGNATURE, SDK_TIMESTAMP
from tests.support import callbox_client, settings_for

API_KEY = "sendgrid-reader-key-0123456789"
DOC = Path(__file__).resolve().parents[2] / "docs" / "sendgrid.md"
JSON = {"Content-Type": "application/json"}
SDK_HEADERS = {**JSON, SIGNATURE_HEADER: SDK_SIGNATURE, TIMESTAMP_HEADER: SDK_TIMESTAMP}


def b64_key(key: ec.EllipticCurvePrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


OWN_KEY = ec.generate_private_key(ec.SECP256R1())


def receivers() -> list[Receiver]:
    return [
        Receiver(name="sendgrid-open", provider="sendgrid"),
        # Two keys, as while SendGrid's key is being replaced: either verifies.
        Receiver(
            name="sendgrid",
            provider="sendgrid",
            auth=Auth(signature=[b64_key(OWN_KEY), SDK_PUBLIC_KEY]),
        ),
        Receiver(
            name="sendgrid-other", provider="sendgrid", auth=Auth(signature=[b64_key(OWN_KEY)])
        ),
    ]


async def post_all(database_url: str, posts: list[tuple[str, bytes, dict[str, str]]]) -> list[Any]:
    settings = settings_for(database_url, receivers())
    async with callbox_client(settings) as client:
        return [
            await client.post(f"/hooks/{receiver}", content=body, headers=headers)
            for receiver, body, headers in posts
        ]


async def graphql(database_url: str, query: str) -> dict[str, Any]:
    settings = settings_for(
        database_url, receivers(), graphql=GraphQL(api_keys=[ApiKey(name="r", key=API_KEY)])
    )
    async with callbox_client(settings) as client:
        answer = await client.post(
            "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {API_KEY}"}
        )
    document: dict[str, Any] = answer.json()
    assert answer.status_code == 200 and "errors" not in document, document
    data: dict[str, Any] = document["data"]
    return data


async def stored(db: asyncpg.Connection) -> list[tuple[str, str, int]]:
    rows = await db.fetch(
        "SELECT receiver, state, event_count FROM callbox_notification ORDER BY id"
    )
    return [(row["receiver"], row["state"], row["event_count"]) for row in rows]


async def test_every_sample_is_stored_and_served_over_graphql(
    db: asyncpg.Connection, database_url: str
) -> None:
    answers = await post_all(
        database_url, [("sendgrid-open", sample.body, JSON) for sample in PROVIDER.samples]
    )
    assert [(a.status_code, a.content) for a in answers] == [(200, b"")] * len(PROVIDER.samples)
    assert await stored(db) == [
        ("sendgrid-open", "ACCEPTED", 1),
        ("sendgrid-open", "ACCEPTED", 2),  # the bounce and its suppression
        ("sendgrid-open", "ACCEPTED", 1),
        ("sendgrid-open", "ACCEPTED", 1),
        ("sendgrid-open", "ACCEPTED", 6),  # five reports and the spam report's opt-out
        ("sendgrid-open", "ACCEPTED", 1),
    ]
    data = await graphql(
        database_url,
        """{ messages(first: 50) { nodes { providerMessageId direction channel to status
            failureReason providerStatus openedAt clickedAt
            events { kind providerStatus bounceType detail } } }
            optOuts { nodes { address source text message { providerMessageId status } } } }""",
    )
    summary = sorted(
        (m["providerMessageId"], m["to"], m["status"], m["failureReason"], m["providerStatus"])
        for m in data["messages"]["nodes"]
    )
    assert summary == [
        ("14c5d75ce93.dfd.64b469", "example@example.com", "FAILED", "BLOCKED", "dropped"),
        ("LRzXl_NHStOGhQ4kofSm_A", "hello@world.com", "FAILED", "BLOCKED", "dropped"),
        ("Lli-03HcQ5-JLybO9fXsJg", "noreply@example.com", "FAILED", "PERMANENT", "bounce"),
        (
            "filter0093p1las1.9128.5717FB8127.0", "invalid@invalid", "FAILED",
            "INVALID_RECIPIENT", "dropped",
        ),
        ("wrfRRvF7Q0GgwUo2CvDmEA", "recipient@example.com", "DELIVERED", None, "delivered"),
    ]  # fmt: skip
    assert {(m["direction"], m["channel"]) for m in data["messages"]["nodes"]} == {
        ("OUTBOUND", "EMAIL")
    }
    by_id = {m["providerMessageId"]: m for m in data["messages"]["nodes"]}
    delivered = by_id["wrfRRvF7Q0GgwUo2CvDmEA"]
    # Delivered twice (the sample and the batch), processed, opened, clicked, reported as
    # spam: all in its history, the status still DELIVERED.
    assert sorted((e["kind"], e["providerStatus"]) for e in delivered["events"]) == [
        ("CLICKED", "click"),
        ("COMPLAINED", "spamreport"),
        ("OPENED", "open"),
        ("STATUS", "delivered"),
        ("STATUS", "delivered"),
        ("STATUS", "processed"),
    ]
    assert delivered["openedAt"] is not None and delivered["clickedAt"] is not None
    click = next(e for e in delivered["events"] if e["kind"] == "CLICKED")
    assert click["detail"] == "http://www.example.com"
    bounce_types = {
        m["providerMessageId"]: [e["bounceType"] for e in m["events"]]
        for m in data["messages"]["nodes"]
    }
    assert bounce_types["Lli-03HcQ5-JLybO9fXsJg"] == ["HARD"]
    assert bounce_types["14c5d75ce93.dfd.64b469"] == ["SUPPRESSED"]
    assert bounce_types["filter0093p1las1.9128.5717FB8127.0"] == [None]
    assert sorted(
        (o["address"], o["source"], o["message"]["status"]) for o in data["optOuts"]["nodes"]
    ) == [
        ("noreply@example.com", "suppression", "FAILED"),
        ("recipient@example.com", "complaint", "DELIVERED"),
    ]


SHARED = Path("/work/shared/payloads/sendgrid")
SHARED_FILES = {
    "anymail__setUpClass__raw_events.json",
    "anymail__test_processed_event__raw_events.json",
    "anymail__test_open_event__raw_events.json",
    "anymail__test_click_event__raw_events.json",
    "anymail__test_delivered_event__raw_events.json",
    "anymail__test_compatibility_message_id_from_smtp_id__raw_events.json",
    "anymail__test_bounce_event__raw_events.json",
    "anymail__test_dropped_bounced__raw_events.json",
    "anymail__test_dropped_invalid_event__raw_events.json",
}


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared SendGrid payloads are not at hand")
async def test_every_shared_payload_is_stored_and_normalised(
    db: asyncpg.Connection, database_url: str
) -> None:
    files = sorted(p for p in SHARED.glob("anymail__*.json"))
    assert {p.name for p in files} == SHARED_FILES
    answers = await post_all(database_url, [("sendgrid-open", p.read_bytes(), JSON) for p in files])
    assert [a.status_code for a in answers] == [200] * len(files)
    # Some files are the same event again (setUpClass's is the processed event's): duplicates.
    states = [state for _, state, _ in await stored(db)]
    assert set(states) == {"ACCEPTED", "DUPLICATE"} and len(states) == len(files)
    rows = await db.fetch(
        "SELECT e.provider_status, e.kind, e.bounce_type, e.failure_reason, e.status"
        " FROM callbox_status_event e ORDER BY e.id"
    )
    seen = {(r["provider_status"], r["kind"], r["bounce_type"], r["failure_reason"]) for r in rows}
    assert seen == {
        ("processed", "STATUS", None, None),
        ("open", "OPENED", None, None),
        ("click", "CLICKED", None, None),
        ("delivered", "STATUS", None, None),
        ("bounce", "STATUS", "HARD", "PERMANENT"),
        ("dropped", "STATUS", "SUPPRESSED", "BLOCKED"),
        ("dropped", "STATUS", None, "INVALID_RECIPIENT"),
    }
    rows = await db.fetch("SELECT provider_message_id, status FROM callbox_message")
    messages = {r["provider_message_id"]: r["status"] for r in rows}
    # Processed, opened, clicked and delivered: DELIVERED, the open and the click after it
    # leaving it so.
    assert messages["wrfRRvF7Q0GgwUo2CvDmEA"] == "DELIVERED"
    assert messages["Lli-03HcQ5-JLybO9fXsJg"] == "FAILED"
    assert messages["14c5d75ce93.dfd.64b469"] == "FAILED"
    opt_outs = await db.fetch("SELECT address, source FROM callbox_opt_out")
    assert [tuple(r) for r in opt_outs] == [("noreply@example.com", "suppression")]


async def test_the_sdk_vector_is_accepted_byte_for_byte(
    db: asyncpg.Connection, database_url: str
) -> None:
    [answer] = await post_all(database_url, [("sendgrid", SDK_BODY, SDK_HEADERS)])
    assert (answer.status_code, answer.content) == (200, b"")
    assert await stored(db) == [("sendgrid", "ACCEPTED", 1)]
    assert bytes(await db.fetchval("SELECT body FROM callbox_notification")) == SDK_BODY
    message = await db.fetchrow("SELECT provider_message_id, status FROM callbox_message")
    assert tuple(message) == ("LRzXl_NHStOGhQ4kofSm_A", "FAILED")


async def test_anything_else_is_401_and_stores_nothing(
    db: asyncpg.Connection, database_url: str
) -> None:
    re_encoded = json.dumps(json.loads(SDK_BODY)).encode()
    posts = [
        ("sendgrid", SDK_BODY.rstrip(b"\r\n"), SDK_HEADERS),  # the CRLF lost on the way
        ("sendgrid", re_encoded, SDK_HEADERS),
        ("sendgrid", SDK_BODY, {**SDK_HEADERS, TIMESTAMP_HEADER: "1600112503"}),
        ("sendgrid", SDK_BODY, JSON),
        ("sendgrid", SDK_BODY, {**SDK_HEADERS, SIGNATURE_HEADER: "%%%"}),
        ("sendgrid-other", SDK_BODY, SDK_HEADERS),  # SendGrid's key is not this receiver's
    ]
    answers = await post_all(database_url, posts)
    assert [(a.status_code, a.text) for a in answers] == [
        (401, "signature does not match"),
        (401, "signature does not match"),
        (401, "signature does not match"),
        (401, f"missing {SIGNATURE_HEADER} header"),
        (401, f"{SIGNATURE_HEADER} is not base64"),
        (401, "signature does not match"),
    ]
    assert await stored(db) == []


async def test_a_batch_signed_now_with_the_other_key_is_accepted(
    db: asyncpg.Connection, database_url: str
) -> None:
    body = PROVIDER.samples[4].body
    timestamp = str(int(datetime.now(UTC).timestamp()))
    signature = OWN_KEY.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    headers = {
        **JSON,
        SIGNATURE_HEADER: base64.b64encode(signature).decode(),
        TIMESTAMP_HEADER: timestamp,
    }
    answers = await post_all(
        database_url, [("sendgrid", body, headers), ("sendgrid-other", body, headers)]
    )
    assert [a.status_code for a in answers] == [200, 200]
    assert await stored(db) == [("sendgrid", "ACCEPTED", 6), ("sendgrid-other", "ACCEPTED", 6)]


def test_the_documented_receiver_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENDGRID_WEBHOOK_KEY", SDK_PUBLIC_KEY)
    (block,) = re.findall(r"```toml\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    (receiver,) = settings_from_mapping(tomllib.loads(block)).receivers
    (key,) = prepare_receiver(receiver, 0).signature_keys
    assert key.curve.name == "secp256r1"
