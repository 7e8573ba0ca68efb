"""Amazon SES through SNS end to end: HTTP in, PostgreSQL, GraphQL out.

Signed receivers verify against a local stand-in for SNS's HTTPS hosts (tests/fake_sns.py):
Callbox fetches the signing certificate through ``[outbound] proxy``, trusting the test CA
through ``[outbound] ca_bundle``, and visits ``SubscribeURL`` there to confirm subscriptions.
"""

from __future__ import annotations

import json
import logging
import re
import tomllib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from callbox.providers.amazon_ses import PROVIDER
from callbox.receivers import prepare_receiver
from callbox.settings import ApiKey, Auth, GraphQL, Receiver, settings_from_mapping
from tests.fake_sns import (
    OTHER_TOPIC,
    TOPIC,
    FakeSns,
    body_of,
    confirmation,
    notification,
    running_fake_sns,
    sns_now,
)
from tests.support import callbox_client, settings_for

API_KEY = "ses-reader-key-0123456789"
DOC = Path(__file__).resolve().parents[2] / "docs" / "amazon-ses.md"
SNS_HEADERS = {"Content-Type": "text/plain; charset=UTF-8"}


@pytest.fixture(scope="module")
def fake_sns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeSns]:
    with running_fake_sns(tmp_path_factory.mktemp("fake-sns")) as fake:
        yield fake


@pytest.fixture
def sns(fake_sns: FakeSns) -> FakeSns:
    fake_sns.reset()
    return fake_sns


def receivers() -> list[Receiver]:
    return [
        Receiver(name="ses-open", provider="amazon_ses"),  # no signature: samples as they are
        Receiver(name="ses", provider="amazon_ses", auth=Auth(signature=[TOPIC])),
        Receiver(
            name="ses-manual",
            provider="amazon_ses",
            auth=Auth(signature=[TOPIC]),
            options={"auto_confirm": False},
        ),
    ]


async def post_all(
    database_url: str, sns: FakeSns, posts: list[tuple[str, bytes]], *, seconds: float = 5
) -> list[Any]:
    settings = settings_for(
        database_url,
        receivers(),
        outbound=sns.outbound(timeout_seconds=seconds),
        graphql=GraphQL(api_keys=[ApiKey(name="reader", key=API_KEY)]),
    )
    async with callbox_client(settings) as client:
        return [
            await client.post(f"/hooks/{receiver}", content=body, headers=SNS_HEADERS)
            for receiver, body in posts
        ]


async def graphql(database_url: str, sns: FakeSns, query: str) -> dict[str, Any]:
    settings = settings_for(
        database_url,
        receivers(),
        outbound=sns.outbound(),
        graphql=GraphQL(api_keys=[ApiKey(name="reader", key=API_KEY)]),
    )
    async with callbox_client(settings) as client:
        answer = await client.post(
            "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {API_KEY}"}
        )
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    assert "errors" not in document, document
    data: dict[str, Any] = document["data"]
    return data


MESSAGES = """{ messages(first: 50) { nodes {
    receiver providerMessageId direction channel from to body status failureReason
    providerStatus statusOccurredAt metadata subject
    events { status providerStatus failureReason occurredAt kind bounceType detail
    notification { receiver } } } } }"""
OPT_OUTS = """{ optOuts { nodes { address action channel source text receiver
    message { providerMessageId } } } }"""
NOTIFICATIONS = """{ notifications(first: 50) { nodes {
    receiver state eventCount contentType body } } }"""


async def stored(db: asyncpg.Connection) -> list[tuple[str, str, int]]:
    rows = await db.fetch(
        "SELECT receiver, state, event_count FROM callbox_notification ORDER BY id"
    )
    return [(row["receiver"], row["state"], row["event_count"]) for row in rows]


# --- Every sample, through HTTP, PostgreSQL and GraphQL ------------------------------------------


async def test_every_sample_is_stored_and_served_over_graphql(
    db: asyncpg.Connection, database_url: str, sns: FakeSns
) -> None:
    answers = await post_all(
        database_url, sns, [("ses-open", sample.body) for sample in PROVIDER.samples]
    )
    assert [(a.status_code, a.content) for a in answers] == [(200, b"")] * len(PROVIDER.samples)
    assert await stored(db) == [
        ("ses-open", "ACCEPTED", 2),  # a hard bounce: the status and the suppression opt-out
        ("ses-open", "ACCEPTED", 1),
        ("ses-open", "ACCEPTED", 4),  # two bounced recipients, hard: two of each
        ("ses-open", "ACCEPTED", 2),  # the complaint: a COMPLAINED report and an opt-out
        ("ses-open", "ACCEPTED", 1),
        ("ses-open", "ACCEPTED", 1),
        ("ses-open", "ACCEPTED", 1),
    ]
    data = await graphql(database_url, sns, MESSAGES)
    messages = {m["providerMessageId"]: m for m in data["messages"]["nodes"]}
    summary = {
        key: (m["direction"], m["channel"], m["from"], m["to"], m["status"], m["failureReason"])
        for key, m in messages.items()
    }
    assert summary == {
        "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000": (
            "OUTBOUND", "EMAIL", "john@example.com", "jane@example.com", "FAILED", "PERMANENT"
        ),
        "0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000": (
            "OUTBOUND", "EMAIL", None, "jane@example.com", "DELIVERED", None
        ),
        "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000": (
            "OUTBOUND", "EMAIL", "sender@example.com", "nobody@example.com", "FAILED",
            "INVALID_RECIPIENT",
        ),
        "7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000": (
            "OUTBOUND", "EMAIL", None, "recipient@example.com", "FAILED", "BLOCKED"
        ),
        "c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000": (
            "OUTBOUND", "EMAIL", None, "recipient@example.com", "FAILED", "TECHNICAL"
        ),
        "jili9m351il3gkburn7o2f0u6788stij94c8ld01": (
            "INBOUND", "EMAIL", "from@example.org", "inbound@example.com", "RECEIVED", None
        ),
        # First known from the complaint: DELIVERED, what a complaint implies.
        "000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000": (
            "OUTBOUND", "EMAIL", "john@example.com", "richard@example.com", "DELIVERED", None
        ),
    }  # fmt: skip
    # One e-mail to two recipients is one message with a status event for each.
    several = messages["EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"]
    assert [e["providerStatus"] for e in several["events"]] == ["Bounce/Permanent/NoEmail"] * 2
    assert {(e["kind"], e["bounceType"]) for e in several["events"]} == {("STATUS", "HARD")}
    bounce = messages["00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000"]
    assert bounce["providerStatus"] == "Bounce/Permanent/General"
    assert bounce["statusOccurredAt"] == "2016-01-27T14:59:44.101000+00:00"
    assert bounce["metadata"]["diagnosticCode"] == (
        "smtp; 550 5.1.1 <jane@example.com>... User unknown"
    )
    assert bounce["subject"] == "Hello"
    assert [e["detail"] for e in bounce["events"]] == [bounce["metadata"]["diagnosticCode"]]
    complaint = messages["000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000"]
    assert [(e["kind"], e["detail"]) for e in complaint["events"]] == [
        ("COMPLAINED", "complaint abuse")
    ]
    assert complaint["statusOccurredAt"] is None  # no status report for it yet
    inbound = messages["jili9m351il3gkburn7o2f0u6788stij94c8ld01"]
    assert inbound["body"] == "It's a body\N{HORIZONTAL ELLIPSIS}\r\n"
    assert inbound["metadata"]["subject"] == inbound["subject"] == "Test inbound message"
    data = await graphql(database_url, sns, OPT_OUTS)
    opt_outs = sorted(data["optOuts"]["nodes"], key=lambda o: o["address"])
    assert {(o["receiver"], o["action"], o["channel"]) for o in opt_outs} == {
        ("ses-open", "OPT_OUT", "EMAIL")
    }
    assert [
        (o["address"], o["source"], o["text"], o["message"]["providerMessageId"]) for o in opt_outs
    ] == [
        (
            "gone@example.org",
            "suppression",
            "Bounce/Permanent/NoEmail: smtp; 550 5.1.1 mailbox does not exist",
            "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
        ),
        (
            "jane@example.com",
            "suppression",
            "Bounce/Permanent/General: smtp; 550 5.1.1 <jane@example.com>... User unknown",
            "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000",
        ),
        (
            "nobody@example.com",
            "suppression",
            "Bounce/Permanent/NoEmail: smtp; 550 5.1.1 user unknown",
            "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
        ),
        (
            "richard@example.com",
            "complaint",
            "complaint abuse",
            "000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000",
        ),
    ]


async def test_sns_messages_and_unknown_events_are_recorded_without_events(
    db: asyncpg.Connection, database_url: str, sns: FakeSns
) -> None:
    unknown = {"eventType": "SomethingNew", "mail": {"messageId": "m-1"}}
    validated = "Successfully validated SNS topic for Amazon SES event publishing."
    posts = [
        ("ses-open", body_of(notification(unknown))),
        ("ses-open", body_of(notification(validated))),
        ("ses-open", body_of(confirmation())),
    ]
    answers = await post_all(database_url, sns, posts)
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert await stored(db) == [("ses-open", "ACCEPTED", 0)] * 3
    assert await db.fetchval("SELECT count(*) FROM callbox_message") == 0
    assert sns.requests == []  # an unverified confirmation is never confirmed


# --- Signed receivers ------------------------------------------------------------------------


def bounce_of_two(message_id: str = "sns-msg-1") -> dict[str, Any]:
    ses_event = json.loads(json.loads(PROVIDER.samples[2].body)["Message"])
    return notification(ses_event, message_id=message_id)


@pytest.mark.parametrize("version", ["1", "2"])
async def test_a_signed_notification_is_verified_and_stored(
    db: asyncpg.Connection, database_url: str, sns: FakeSns, version: str
) -> None:
    body = body_of(sns.sign(bounce_of_two(), version=version))
    [answer] = await post_all(database_url, sns, [("ses", body)])
    assert (answer.status_code, answer.content) == (200, b"")
    assert await stored(db) == [("ses", "ACCEPTED", 4)]
    row = await db.fetchrow("SELECT body, content_type FROM callbox_notification")
    assert (bytes(row["body"]), row["content_type"]) == (body, "text/plain; charset=UTF-8")
    recipients = await db.fetch(
        "SELECT m.recipient, e.provider_status, e.failure_reason FROM callbox_status_event e"
        " JOIN callbox_message m ON m.id = e.message ORDER BY e.id"
    )
    assert [tuple(r) for r in recipients] == [
        ("nobody@example.com", "Bounce/Permanent/NoEmail", "INVALID_RECIPIENT"),
        ("nobody@example.com", "Bounce/Permanent/NoEmail", "INVALID_RECIPIENT"),
    ]
    keys = await db.fetch(
        "SELECT dedupe_key FROM callbox_applied_event WHERE dedupe_key LIKE 'status:%'"
        " ORDER BY dedupe_key"
    )
    assert [k["dedupe_key"].rsplit(":", 2)[1] for k in keys] == [
        "gone@example.org",
        "nobody@example.com",
    ]
    opt_outs = await db.fetch("SELECT address, source FROM callbox_opt_out ORDER BY address")
    assert [tuple(r) for r in opt_outs] == [
        ("gone@example.org", "suppression"),
        ("nobody@example.com", "suppression"),
    ]
    assert sns.connects == ["sns.us-east-1.amazonaws.com:443"]


async def test_refused_requests_are_401_with_the_reason_and_store_nothing(
    db: asyncpg.Connection, database_url: str, sns: FakeSns
) -> None:
    good = sns.sign(bounce_of_two())
    tampered = {**good, "Message": good["Message"].replace("nobody@", "somebody@")}
    foreign = sns.sign(
        bounce_of_two(), cert_url="https://sns.us-east-1.amazonaws.com.evil.example/cert.pem"
    )
    untrusted = sns.sign({**bounce_of_two(), "TopicArn": OTHER_TOPIC})
    stale = sns.sign({**bounce_of_two(), "Timestamp": sns_now(-timedelta(hours=2))})
    posts = [
        ("ses", body_of(tampered)),
        ("ses", body_of(foreign)),
        ("ses", body_of(untrusted)),
        ("ses", body_of(stale)),
        ("ses", PROVIDER.samples[0].body),  # the documented sample: a placeholder signature
        ("ses", b"not json"),
        ("ses", body_of(sns.sign(confirmation(topic=OTHER_TOPIC)))),
    ]
    answers = await post_all(database_url, sns, posts)
    assert [(a.status_code, a.text) for a in answers] == [
        (401, "signature does not match"),
        (
            401,
            "SigningCertURL is not on an Amazon SNS host (sns.<region>.amazonaws.com):"
            " 'sns.us-east-1.amazonaws.com.evil.example'",
        ),
        (401, f"topic {OTHER_TOPIC} is not one this receiver trusts"),
        (401, "Timestamp is more than 3900 s old (or 300 s ahead)"),
        (401, "topic arn:aws:sns:us-east-1:1234567890:SES_Events is not one this receiver trusts"),
        (401, "not a signed SNS message: invalid JSON: Expecting value at line 1 column 1"),
        (401, f"topic {OTHER_TOPIC} is not one this receiver trusts"),
    ]
    assert await stored(db) == []
    # Only the tampered and the stale messages (trusted topic, SNS host) fetched anything.
    assert sns.connects == ["sns.us-east-1.amazonaws.com:443"]
    assert sns.gets("/SimpleNotificationService-test.pem") == 1  # and once, for both


async def test_a_certificate_that_cannot_be_fetched_now_is_503_and_sns_retries(
    db: asyncpg.Connection, database_url: str, sns: FakeSns
) -> None:
    slow = body_of(sns.sign(bounce_of_two(), cert_url=sns.cert_url(name="slow.pem")))
    broken = body_of(sns.sign(bounce_of_two(), cert_url=sns.cert_url(name="broken.pem")))
    missing = body_of(sns.sign(bounce_of_two(), cert_url=sns.cert_url(name="missing.pem")))
    answers = await post_all(database_url, sns, [("ses", slow)], seconds=1)
    answers += await post_all(database_url, sns, [("ses", broken), ("ses", missing)])
    assert [(a.status_code, a.headers.get("retry-after"), a.text) for a in answers] == [
        (
            503,
            "30",
            "sns.us-east-1.amazonaws.com did not answer within 1 s; nothing is stored: retry",
        ),
        (503, "30", "SigningCertURL: the server answered HTTP 500; nothing is stored: retry"),
        (401, None, "SigningCertURL: the server answered HTTP 404"),
    ]
    assert await stored(db) == []
    # SNS's retry, once the certificate can be had: accepted.
    [retry] = await post_all(database_url, sns, [("ses", body_of(sns.sign(bounce_of_two())))])
    assert retry.status_code == 200
    assert await stored(db) == [("ses", "ACCEPTED", 4)]


async def test_a_certificate_is_fetched_once_for_many_messages(
    db: asyncpg.Connection, database_url: str, sns: FakeSns
) -> None:
    posts = [("ses", body_of(sns.sign(bounce_of_two(f"sns-{n}")))) for n in range(4)]
    answers = await post_all(database_url, sns, posts)
    assert [a.status_code for a in answers] == [200] * 4
    assert sns.gets("/SimpleNotificationService-test.pem") == 1
    # The same SES event in four SNS messages: applied once, then recognised.
    assert await stored(db) == [("ses", "ACCEPTED", 4)] + [("ses", "DUPLICATE", 4)] * 3


async def test_a_subscription_confirmation_is_confirmed_and_recorded(
    db: asyncpg.Connection, database_url: str, sns: FakeSns, caplog: pytest.LogCaptureFixture
) -> None:
    message = sns.sign(confirmation(token="token-0123"), version="2")
    with caplog.at_level(logging.INFO, logger="callbox.ingest.routes"):
        [answer] = await post_all(database_url, sns, [("ses", body_of(message))])
    assert (answer.status_code, answer.content) == (200, b"")
    visited = [path for _, path in sns.requests if path.startswith("/?")]
    assert visited == [f"/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=token-0123"]
    assert f"receiver ses: subscription to SNS topic {TOPIC} confirmed" in caplog.messages
    assert not any("token-0123" in line for line in caplog.messages)  # (never logged)
    data = await graphql(database_url, sns, NOTIFICATIONS)
    [recorded] = data["notifications"]["nodes"]
    assert (recorded["receiver"], recorded["state"], recorded["eventCount"]) == (
        "ses",
        "ACCEPTED",
        0,
    )
    assert json.loads(recorded["body"])["Type"] == "SubscriptionConfirmation"
    assert recorded["contentType"] == "text/plain; charset=UTF-8"


async def test_auto_confirm_off_records_without_visiting(
    db: asyncpg.Connection, database_url: str, sns: FakeSns, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="callbox.ingest.routes"):
        [answer] = await post_all(
            database_url, sns, [("ses-manual", body_of(sns.sign(confirmation())))]
        )
    assert answer.status_code == 200
    assert [path for _, path in sns.requests if path.startswith("/?")] == []
    assert await stored(db) == [("ses-manual", "ACCEPTED", 0)]
    assert any("left unconfirmed (auto_confirm = false)" in line for line in caplog.messages)


async def test_a_confirmation_sns_does_not_answer_is_503_and_confirmed_on_the_retry(
    db: asyncpg.Connection, database_url: str, sns: FakeSns
) -> None:
    body = body_of(sns.sign(confirmation()))
    sns.confirm_status = 503
    [first] = await post_all(database_url, sns, [("ses", body)])
    assert (first.status_code, first.headers["retry-after"]) == (503, "30")
    assert first.text == (
        "SubscribeURL: the server answered HTTP 503; the request is stored, its follow-up"
        " failed: retry"
    )
    sns.confirm_status = 200
    [retry] = await post_all(database_url, sns, [("ses", body)])
    assert retry.status_code == 200
    assert len([path for _, path in sns.requests if path.startswith("/?")]) == 2
    assert await stored(db) == [("ses", "ACCEPTED", 0)] * 2  # each delivery recorded


async def test_an_unsubscribe_confirmation_is_recorded(
    db: asyncpg.Connection, database_url: str, sns: FakeSns, caplog: pytest.LogCaptureFixture
) -> None:
    message = sns.sign(confirmation("UnsubscribeConfirmation"))
    with caplog.at_level(logging.INFO, logger="callbox.ingest.routes"):
        [answer] = await post_all(database_url, sns, [("ses", body_of(message))])
    assert answer.status_code == 200
    assert await stored(db) == [("ses", "ACCEPTED", 0)]
    assert [path for _, path in sns.requests if path.startswith("/?")] == []
    assert f"receiver ses: SNS topic {TOPIC} ended its subscription" in caplog.text


def test_the_documented_receiver_is_valid() -> None:
    (block,) = re.findall(r"```toml\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    (receiver,) = settings_from_mapping(tomllib.loads(block)).receivers
    ready = prepare_receiver(receiver, 0)
    assert ready.signature_keys == ("arn:aws:sns:eu-west-1:123456789012:ses-events",)
    assert ready.provider is PROVIDER


# --- The shared payload folder -------------------------------------------------------------------

SHARED = Path("/work/shared/payloads/aws-sns-ses")


@pytest.mark.skipif(not SHARED.is_dir(), reason="the shared SES payloads are not at hand")
async def test_every_shared_payload_is_stored_and_normalised(
    db: asyncpg.Connection, database_url: str, sns: FakeSns
) -> None:
    files = sorted(SHARED.glob("anymail__*.json"))
    assert len(files) == 12
    answers = await post_all(database_url, sns, [("ses-open", p.read_bytes()) for p in files])
    outcomes = {p.name: (a.status_code, a.text) for p, a in zip(files, answers, strict=True)}
    # Only the "incorrect received event" (a Received notification with nothing) is refused.
    assert {name for name, (code, _) in outcomes.items() if code != 200} == {
        "anymail__test_incorrect_received_event__raw_sns_message.json"
    }
    assert outcomes["anymail__test_incorrect_received_event__raw_sns_message.json"] == (
        400,
        "mail: missing",
    )
    states = dict(zip((p.name for p in files), await stored(db), strict=True))
    assert {name: (state, count) for name, (_, state, count) in states.items()} == {
        "anymail__sns_SubscriptionConfirmation.json": ("ACCEPTED", 0),
        "anymail__sns_UnsubscribeConfirmation.json": ("ACCEPTED", 0),
        "anymail__sns_envelope_notification_bounce.json": ("ACCEPTED", 2),  # status + opt-out
        "anymail__sns_notification_non_json_message_successfully_validated.json": ("ACCEPTED", 0),
        # The same bounce, raw: recognised by its SES-built dedupe keys.
        "anymail__test_bounce_event__raw_ses_event.json": ("DUPLICATE", 2),
        "anymail__test_click_event__raw_ses_event.json": ("ACCEPTED", 1),
        "anymail__test_delivery_event__raw_ses_event.json": ("ACCEPTED", 1),
        "anymail__test_incorrect_received_event__raw_sns_message.json": ("REJECTED", 0),
        "anymail__test_open_event__raw_ses_event.json": ("ACCEPTED", 1),
        "anymail__test_reject_event__raw_ses_event.json": ("ACCEPTED", 1),
        "anymail__test_rendering_failure_event__raw_ses_event.json": ("ACCEPTED", 1),
        "anymail__test_send_event__raw_ses_event.json": ("ACCEPTED", 1),
    }
    rows = await db.fetch(
        "SELECT e.provider_status, e.kind, e.bounce_type, e.failure_reason, e.status"
        " FROM callbox_status_event e ORDER BY e.provider_status"
    )
    assert [tuple(r) for r in rows] == [
        ("Bounce/Permanent/General", "STATUS", "HARD", "PERMANENT", "FAILED"),
        ("Click", "CLICKED", None, None, "DELIVERED"),
        ("Delivery", "STATUS", None, None, "DELIVERED"),
        ("Open", "OPENED", None, None, "DELIVERED"),
        ("Reject", "STATUS", "BLOCKED", "BLOCKED", "FAILED"),
        ("Rendering Failure", "STATUS", None, "TECHNICAL", "FAILED"),
        ("Send", "STATUS", None, None, "SENT"),
    ]
    rows = await db.fetch(
        "SELECT provider_message_id, status, subject, opened_at IS NOT NULL AS opened,"
        " clicked_at IS NOT NULL AS clicked FROM callbox_message"
    )
    messages = {r["provider_message_id"]: tuple(r)[1:] for r in rows}
    assert messages == {
        "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000": (
            "FAILED", "Hello", False, False
        ),
        "0000014644fe5ef6-9a483358-9170-4cb4-a269-f5dcdf415321-000000": (
            "DELIVERED", None, False, False
        ),
        "c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000": ("FAILED", None, False, False),
        # AWS's examples share one messageId: sent, opened, clicked and rejected. The open and
        # the click only set openedAt and clickedAt; the rejection's FAILED stands.
        "7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000": ("FAILED", None, True, True),
    }  # fmt: skip
    opt_outs = await db.fetch("SELECT address, source, action FROM callbox_opt_out")
    assert [tuple(r) for r in opt_outs] == [("jane@example.com", "suppression", "OPT_OUT")]
