"""Notify's forks end to end: VA Notify's signed callbacks (verified before anything is stored),
GOV.UK's returned letters on the LETTER channel, GC Notify's opted-out numbers in the ledger."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest

from callbox.settings import ApiKey, Auth, GraphQL, Receiver
from tests.support import callbox_client, settings_for

API_KEY = "notify-forks-reader-0123456789"
BEARER = "govuk-notify-bearer-0123456789"
VA_SECRET_ENV = "CALLBOX_TEST_VA_NOTIFY_SECRET"

# department-of-veterans-affairs/vets-api spec/lib/va_notify/callback_signature_generator_spec.rb
VA_BODY = (
    b'{"id":"123","reference":null,"to":"test@example.com","status":"delivered",'
    b'"created_at":"2025-08-12T18:20:31.917125Z","completed_at":"2025-08-12T18:20:35.890510Z",'
    b'"sent_at":"2025-08-12T18:20:32.325383Z","notification_type":"email","status_reason":null,'
    b'"provider":"ses","provider_payload":null}'
)
VA_KEY = "test_api_key"
VA_SIGNATURE = "aee3be8e2b10cf83668cbd2546a38d33eeff4d95da1df1e99011fb5e24f03910"

QUERY = """
query {
  messages(first: 20) {
    nodes {
      receiver providerMessageId direction channel to status providerStatus failureReason
      reference metadata
    }
  }
  optOuts(first: 20) { nodes { address source channel receiver } }
}
"""


def receivers() -> list[Receiver]:
    return [
        Receiver(
            name="va-notify",
            provider="notify",
            default_region="US",
            auth=Auth(signature=["an-older-api-key-secret", f"env:{VA_SECRET_ENV}"]),
        ),
        Receiver(name="govuk", provider="notify", auth=Auth(bearer=[BEARER])),
    ]


async def run(
    database_url: str, monkeypatch: pytest.MonkeyPatch, *posts: tuple[str, bytes, dict[str, str]]
) -> tuple[list[tuple[int, str]], dict[str, Any]]:
    monkeypatch.setenv(VA_SECRET_ENV, VA_KEY)
    graphql = GraphQL(api_keys=[ApiKey(name="reader", key=API_KEY, scopes=["read"])])
    settings = settings_for(database_url, receivers(), graphql=graphql)
    answers = []
    async with callbox_client(settings) as client:
        for receiver, body, headers in posts:
            response = await client.post(
                f"/hooks/{receiver}",
                content=body,
                headers={"Content-Type": "application/json", **headers},
            )
            answers.append((response.status_code, response.text))
        result = await client.post(
            "/graphql", json={"query": QUERY}, headers={"Authorization": f"Bearer {API_KEY}"}
        )
    document = result.json()
    assert "errors" not in document, document
    data: dict[str, Any] = document["data"]
    return answers, data


async def test_va_notify_signed_callback_is_stored(
    db: asyncpg.Connection, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    answers, data = await run(
        database_url, monkeypatch, ("va-notify", VA_BODY, {"x-enp-signature": VA_SIGNATURE})
    )
    assert answers == [(200, "")]
    [message] = data["messages"]["nodes"]
    assert message == {
        "receiver": "va-notify",
        "providerMessageId": "123",
        "direction": "OUTBOUND",
        "channel": "EMAIL",
        "to": "test@example.com",
        "status": "DELIVERED",
        "providerStatus": "delivered",
        "failureReason": None,
        "reference": None,
        "metadata": {"provider": "ses"},
    }
    stored = await db.fetchrow("SELECT state, headers FROM callbox_notification")
    assert stored["state"] == "ACCEPTED"


@pytest.mark.parametrize(
    ("body", "headers", "reason"),
    [
        (VA_BODY, {"x-enp-signature": "0" * 64}, "signature does not match"),
        (VA_BODY, {}, "missing x-enp-signature header"),
        (
            VA_BODY.replace(b'"delivered"', b'"permanent-failure"'),
            {"x-enp-signature": VA_SIGNATURE},
            "signature does not match",
        ),
        (
            VA_BODY.replace(b'"provider":"ses"', b'"provider":"ses","extra":"1"'),
            {"x-enp-signature": VA_SIGNATURE},
            "signature does not match",
        ),
        (
            b"id=123&status=delivered",
            {"x-enp-signature": VA_SIGNATURE},
            "body is not a JSON object: VA Notify signs the fields of one",
        ),
    ],
    ids=["forged", "unsigned", "status-changed", "field-added", "not-json"],
)
async def test_a_forged_va_notify_callback_stores_nothing(
    db: asyncpg.Connection,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    body: bytes,
    headers: dict[str, str],
    reason: str,
) -> None:
    answers, data = await run(database_url, monkeypatch, ("va-notify", body, headers))
    assert answers == [(401, reason)]
    assert data["messages"]["nodes"] == []
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 0


async def test_returned_letter_and_opted_out_number(
    db: asyncpg.Connection, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    returned = {
        "notification_id": "2c1a0b9e-6f3d-4e8a-9b7c-5d4e3f2a1b0c",
        "reference": "letter-2024-0117",
        "date_sent": "2024-01-17T15:04:11.000000Z",
        "sent_by": "API",
        "template_name": "Appointment letter",
        "template_id": "8f7e6d5c-4b3a-4291-8f7e-6d5c4b3a2918",
        "template_version": 2,
        "spreadsheet_file_name": None,
        "spreadsheet_row_number": None,
        "upload_letter_file_name": None,
    }
    opted_out = {
        "id": "0f6c2d7e-8a1b-4c3d-9e5f-a6b7c8d9e0f1",
        "reference": None,
        "to": "+16135550123",
        "status": "technical-failure",
        "status_description": "Tech issue",
        "provider_response": "Phone number is opted out",
        "created_at": "2024-02-05T14:00:00.000000Z",
        "completed_at": "2024-02-05T14:00:09.000000Z",
        "sent_at": "2024-02-05T14:00:01.000000Z",
        "notification_type": "sms",
    }
    bearer = {"Authorization": f"Bearer {BEARER}"}
    answers, data = await run(
        database_url,
        monkeypatch,
        ("govuk", json.dumps(returned).encode(), bearer),
        ("govuk", json.dumps(opted_out).encode(), bearer),
    )
    assert answers == [(200, ""), (200, "")]
    messages = {node["providerMessageId"]: node for node in data["messages"]["nodes"]}
    letter = messages["2c1a0b9e-6f3d-4e8a-9b7c-5d4e3f2a1b0c"]
    assert {key: letter[key] for key in ("channel", "to", "status", "failureReason")} == {
        "channel": "LETTER",
        "to": None,
        "status": "FAILED",
        "failureReason": "PERMANENT",
    }
    assert (letter["providerStatus"], letter["reference"]) == (
        "returned-letter",
        "letter-2024-0117",
    )
    assert letter["metadata"]["template_name"] == "Appointment letter"
    sms = messages["0f6c2d7e-8a1b-4c3d-9e5f-a6b7c8d9e0f1"]
    assert (sms["status"], sms["failureReason"], sms["providerStatus"]) == (
        "FAILED",
        "BLOCKED",
        "technical-failure",
    )
    assert sms["metadata"]["provider_response"] == "Phone number is opted out"
    assert data["optOuts"]["nodes"] == [
        {"address": "+16135550123", "source": "status", "channel": "SMS", "receiver": "govuk"}
    ]
    letter_row = await db.fetchrow(
        "SELECT channel, created_at, occurred_at FROM callbox_message WHERE provider_message_id"
        " = '2c1a0b9e-6f3d-4e8a-9b7c-5d4e3f2a1b0c'"
    )
    assert letter_row["channel"] == "LETTER"
    assert letter_row["created_at"].isoformat() == "2024-01-17T15:04:11+00:00"
