"""GOV.UK Notify (and forks) callbacks, from the seed examples and the forks' documented fields."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from callbox.model.vocabulary import Channel, FailureReason, Status
from callbox.providers.base import (
    Event,
    InboundRequest,
    MessageReceived,
    OptOutReported,
    PayloadRejected,
    ReceiverContext,
    StatusReported,
)
from callbox.providers.notify import FAILURE_DETAILS, NOTIFY_STATUSES, PROVIDER, parse
from tests.providers.contract import parse_sample

UK_RECEIVER = ReceiverContext(name="notify-uk", default_region="GB")
AU_RECEIVER = ReceiverContext(name="notify-au", default_region="AU")

# seeds/004: the documented delivery receipt, verbatim.
SEED_RECEIPT = b"""{
    "id": "UUID",
    "reference": "12345678",
    "to": "person@example.com",
    "status": "delivered",
    "notification_type": "email",
    "created_at": "2017-05-14T12:15:30.000000Z",
    "completed_at": "2017-05-14T12:15:30.000000Z",
    "sent_at": "2017-05-14T12:15:30.000000Z"
}"""

# seeds/004: the documented inbound SMS (Australian fork), verbatim.
SEED_INBOUND = b"""{
    "id": "UUID",
    "source_number": "+61412987654",
    "destination_number": "+61412345678",
    "message": "Hello Notify!",
    "date_received": "2017-05-14T12:15:30.000000Z"
}"""

NOTIFICATION_ID = "740e5834-3a29-46b4-9a6f-16142fde533a"


def at(
    year: int, month: int, day: int, hour: int, minute: int, second: int = 0, micro: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def json_request(body: bytes | dict[str, Any]) -> InboundRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return InboundRequest(method="POST", body=raw, content_type="application/json")


def parse_one(body: bytes | dict[str, Any], receiver: ReceiverContext = UK_RECEIVER) -> Event:
    events = parse(json_request(body), receiver)
    assert len(events) == 1
    return events[0]


def sms_receipt(**changes: Any) -> dict[str, Any]:
    """A GOV.UK text-message receipt: national number, template fields."""
    payload: dict[str, Any] = {
        "id": NOTIFICATION_ID,
        "reference": None,
        "to": "07700912345",
        "status": "delivered",
        "notification_type": "sms",
        "created_at": "2023-11-02T09:00:00.000000Z",
        "completed_at": "2023-11-02T09:00:07.250000Z",
        "sent_at": "2023-11-02T09:00:01.000000Z",
        "template_id": "f33517ff-2a88-4f6e-b855-c550268ce08a",
        "template_version": 3,
    }
    payload.update(changes)
    return payload


def rejection(body: bytes | dict[str, Any]) -> str:
    with pytest.raises(PayloadRejected) as caught:
        parse(json_request(body), UK_RECEIVER)
    return caught.value.reason


# Delivery receipts


def test_seed_delivery_receipt() -> None:
    assert parse_one(SEED_RECEIPT) == StatusReported(
        dedupe_key="receipt:UUID:delivered",
        provider_message_id="UUID",
        channel=Channel.EMAIL,
        status=Status.DELIVERED,
        provider_status="delivered",
        failure_reason=None,
        occurred_at=at(2017, 5, 14, 12, 15, 30),
        recipient="person@example.com",
        reference="12345678",
        created_at=at(2017, 5, 14, 12, 15, 30),
        sent_at=at(2017, 5, 14, 12, 15, 30),
    )


def test_govuk_sms_receipt_national_number_and_template_fields() -> None:
    assert parse_one(sms_receipt()) == StatusReported(
        dedupe_key=f"receipt:{NOTIFICATION_ID}:delivered",
        provider_message_id=NOTIFICATION_ID,
        channel=Channel.SMS,
        status=Status.DELIVERED,
        provider_status="delivered",
        failure_reason=None,
        occurred_at=at(2023, 11, 2, 9, 0, 7, 250000),
        recipient="+447700912345",
        reference=None,
        created_at=at(2023, 11, 2, 9, 0, 0),
        sent_at=at(2023, 11, 2, 9, 0, 1),
        metadata={
            "template_id": "f33517ff-2a88-4f6e-b855-c550268ce08a",
            "template_version": 3,
        },
    )


def test_email_recipient_is_lower_cased() -> None:
    event = parse_one(
        {
            "id": NOTIFICATION_ID,
            "reference": "abc",
            "to": "Person.Name@Example.GOV.UK",
            "status": "permanent-failure",
            "notification_type": "email",
            "created_at": "2023-11-02T09:00:00.000000Z",
            "completed_at": "2023-11-02T09:03:00.000000Z",
            "sent_at": "2023-11-02T09:00:02.000000Z",
        }
    )
    assert event == StatusReported(
        dedupe_key=f"receipt:{NOTIFICATION_ID}:permanent-failure",
        provider_message_id=NOTIFICATION_ID,
        channel=Channel.EMAIL,
        status=Status.FAILED,
        provider_status="permanent-failure",
        failure_reason=FailureReason.PERMANENT,
        occurred_at=at(2023, 11, 2, 9, 3),
        recipient="person.name@example.gov.uk",
        reference="abc",
        created_at=at(2023, 11, 2, 9, 0),
        sent_at=at(2023, 11, 2, 9, 0, 2),
    )


def test_va_fork_receipt_keeps_status_reason_provider_and_payload() -> None:
    payload = {
        "id": NOTIFICATION_ID,
        "reference": "claim-77",
        "to": "+15555550123",
        "status": "temporary-failure",
        "created_at": "2024-01-10T15:00:00.000000Z",
        "completed_at": "2024-01-10T15:00:09.000000Z",
        "sent_at": "2024-01-10T15:00:01.000000Z",
        "notification_type": "sms",
        "status_reason": "Unable to deliver: carrier reported the phone is off",
        "provider": "pinpoint",
        "provider_payload": {"eventType": "TEXT_CARRIER_UNREACHABLE", "isFinal": True},
    }
    assert parse_one(payload, ReceiverContext(name="va")) == StatusReported(
        dedupe_key=f"receipt:{NOTIFICATION_ID}:temporary-failure",
        provider_message_id=NOTIFICATION_ID,
        channel=Channel.SMS,
        status=Status.FAILED,
        provider_status="temporary-failure",
        failure_reason=FailureReason.TEMPORARY,
        occurred_at=at(2024, 1, 10, 15, 0, 9),
        recipient="+15555550123",
        reference="claim-77",
        created_at=at(2024, 1, 10, 15, 0, 0),
        sent_at=at(2024, 1, 10, 15, 0, 1),
        metadata={
            "status_reason": "Unable to deliver: carrier reported the phone is off",
            "provider": "pinpoint",
            "provider_payload": {"eventType": "TEXT_CARRIER_UNREACHABLE", "isFinal": True},
        },
    )


def test_va_fork_null_extras_are_not_kept() -> None:
    event = parse_one(sms_receipt(status_reason=None, provider=None, template_version=None))
    assert isinstance(event, StatusReported)
    assert event.metadata == {"template_id": "f33517ff-2a88-4f6e-b855-c550268ce08a"}


@pytest.mark.parametrize(
    ("completed_at", "sent_at", "expected"),
    [
        ("2023-11-02T09:00:07.000000Z", "2023-11-02T09:00:01.000000Z", at(2023, 11, 2, 9, 0, 7)),
        (None, "2023-11-02T09:00:01.000000Z", at(2023, 11, 2, 9, 0, 1)),
        (None, None, at(2023, 11, 2, 9, 0, 0)),
    ],
    ids=["completed_at", "sent_at-when-not-completed", "created_at-when-not-sent"],
)
def test_occurred_at_prefers_completed_then_sent_then_created(
    completed_at: str | None, sent_at: str | None, expected: datetime
) -> None:
    event = parse_one(sms_receipt(status="sending", completed_at=completed_at, sent_at=sent_at))
    assert event == StatusReported(
        dedupe_key=f"receipt:{NOTIFICATION_ID}:sending",
        provider_message_id=NOTIFICATION_ID,
        channel=Channel.SMS,
        status=Status.SENT,
        provider_status="sending",
        failure_reason=None,
        occurred_at=expected,
        recipient="+447700912345",
        created_at=at(2023, 11, 2, 9, 0, 0),
        sent_at=None if sent_at is None else at(2023, 11, 2, 9, 0, 1),
        metadata={
            "template_id": "f33517ff-2a88-4f6e-b855-c550268ce08a",
            "template_version": 3,
        },
    )


EXPECTED_STATUSES = [
    ("created", Status.PENDING, None),
    ("sending", Status.SENT, None),
    ("pending", Status.SENT, None),
    ("sent", Status.SENT, None),
    ("delivered", Status.DELIVERED, None),
    ("permanent-failure", Status.FAILED, FailureReason.PERMANENT),
    ("temporary-failure", Status.FAILED, FailureReason.TEMPORARY),
    ("technical-failure", Status.FAILED, FailureReason.TECHNICAL),
    ("failed", Status.FAILED, FailureReason.UNKNOWN),
    # Every fork's NOTIFICATION_STATUS_TYPES, and GOV.UK's letter words.
    ("pending-virus-check", Status.PENDING, None),
    ("accepted", Status.SENT, None),
    ("received", Status.SENT, None),
    ("provider-failure", Status.FAILED, FailureReason.PERMANENT),
    ("pii-check-failed", Status.FAILED, FailureReason.BLOCKED),
    ("virus-scan-failed", Status.FAILED, FailureReason.BLOCKED),
    ("validation-failed", Status.FAILED, FailureReason.PERMANENT),
    ("returned-letter", Status.FAILED, FailureReason.PERMANENT),
    ("cancelled", Status.FAILED, FailureReason.UNKNOWN),
]


def test_every_mapped_status_is_tested() -> None:
    assert {value for value, _, _ in EXPECTED_STATUSES} == set(NOTIFY_STATUSES)


@pytest.mark.parametrize(("value", "status", "reason"), EXPECTED_STATUSES)
def test_status_mapping(value: str, status: Status, reason: FailureReason | None) -> None:
    event = parse_one(sms_receipt(status=value))
    assert event == StatusReported(
        dedupe_key=f"receipt:{NOTIFICATION_ID}:{value}",
        provider_message_id=NOTIFICATION_ID,
        channel=Channel.SMS,
        status=status,
        provider_status=value,
        failure_reason=reason,
        occurred_at=at(2023, 11, 2, 9, 0, 7, 250000),
        recipient="+447700912345",
        created_at=at(2023, 11, 2, 9, 0, 0),
        sent_at=at(2023, 11, 2, 9, 0, 1),
        metadata={
            "template_id": "f33517ff-2a88-4f6e-b855-c550268ce08a",
            "template_version": 3,
        },
    )


@pytest.mark.parametrize("value", ["preferences-declined", "lost-in-the-post", "Undeliverable"])
def test_unknown_status_is_kept_as_unknown(value: str) -> None:
    event = parse_one(sms_receipt(status=value))
    assert isinstance(event, StatusReported)
    assert (event.status, event.failure_reason, event.provider_status) == (
        Status.UNKNOWN,
        None,
        value,
    )
    assert event.dedupe_key == f"receipt:{NOTIFICATION_ID}:{value}"


def test_status_and_notification_type_match_case_insensitively() -> None:
    event = parse_one(sms_receipt(status="Delivered", notification_type="SMS"))
    assert isinstance(event, StatusReported)
    assert (event.status, event.provider_status, event.channel) == (
        Status.DELIVERED,
        "Delivered",
        Channel.SMS,
    )


def test_receipt_without_region_keeps_national_number_as_given() -> None:
    event = parse_one(sms_receipt(), ReceiverContext(name="notify"))
    assert isinstance(event, StatusReported)
    assert event.recipient == "07700912345"


def test_naive_timestamps_are_read_in_receiver_timezone() -> None:
    receiver = ReceiverContext(
        name="notify", default_region="GB", timezone=ZoneInfo("Europe/London")
    )
    event = parse_one(
        sms_receipt(
            created_at="2023-07-01T10:00:00.000000",
            sent_at=None,
            completed_at="2023-07-01T10:00:05.000000",
        ),
        receiver,
    )
    assert isinstance(event, StatusReported)
    assert (event.created_at, event.occurred_at) == (at(2023, 7, 1, 9, 0), at(2023, 7, 1, 9, 0, 5))


# Inbound SMS


def test_seed_inbound_sms() -> None:
    assert parse_one(SEED_INBOUND, AU_RECEIVER) == MessageReceived(
        dedupe_key="inbound:UUID",
        provider_message_id="UUID",
        channel=Channel.SMS,
        sender="+61412987654",
        recipient="+61412345678",
        body="Hello Notify!",
        occurred_at=at(2017, 5, 14, 12, 15, 30),
    )


def test_govuk_inbound_sms_with_uk_number_formats() -> None:
    payload = {
        "id": "df10a23e-2c6d-4ea5-87fb-82e520cbf93a",
        "source_number": "447700912345",
        "destination_number": "07700987654",
        "message": "STOP please",
        "date_received": "2023-11-02T18:45:12.123456Z",
    }
    assert parse_one(payload) == MessageReceived(
        dedupe_key="inbound:df10a23e-2c6d-4ea5-87fb-82e520cbf93a",
        provider_message_id="df10a23e-2c6d-4ea5-87fb-82e520cbf93a",
        channel=Channel.SMS,
        sender="+447700912345",
        recipient="+447700987654",
        body="STOP please",
        occurred_at=at(2023, 11, 2, 18, 45, 12, 123456),
    )


def test_va_fork_inbound_sms_keeps_sms_sender_id() -> None:
    payload = {
        "id": "2c9a1f7e-77f0-4d0e-9d55-3c1c5f9b8a10",
        "source_number": "+15555550123",
        "destination_number": "+15555550199",
        "message": " Yes \n",
        "date_received": "2024-01-10T15:00:00.000000Z",
        "sms_sender_id": "6a3e4b1c-1d2e-4f5a-8b9c-0d1e2f3a4b5c",
    }
    assert parse_one(payload, ReceiverContext(name="va")) == MessageReceived(
        dedupe_key="inbound:2c9a1f7e-77f0-4d0e-9d55-3c1c5f9b8a10",
        provider_message_id="2c9a1f7e-77f0-4d0e-9d55-3c1c5f9b8a10",
        channel=Channel.SMS,
        sender="+15555550123",
        recipient="+15555550199",
        body=" Yes \n",
        occurred_at=at(2024, 1, 10, 15, 0),
        metadata={"sms_sender_id": "6a3e4b1c-1d2e-4f5a-8b9c-0d1e2f3a4b5c"},
    )


# E-mail complaints


def test_email_complaint_is_an_opt_out() -> None:
    payload = {
        "notification_id": NOTIFICATION_ID,
        "complaint_id": "b0c6a9b4-6a8e-4a7c-9a1c-7d2f3e4a5b6c",
        "reference": "order-12345678",
        "to": "Person@Example.com",
        "complaint_date": "2023-11-03T08:30:00.000000Z",
    }
    assert parse_one(payload) == OptOutReported(
        dedupe_key="complaint:b0c6a9b4-6a8e-4a7c-9a1c-7d2f3e4a5b6c",
        address="person@example.com",
        channel=Channel.EMAIL,
        occurred_at=at(2023, 11, 3, 8, 30),
        source="complaint",
        provider_message_id=NOTIFICATION_ID,
        text="complaint b0c6a9b4-6a8e-4a7c-9a1c-7d2f3e4a5b6c",
    )


# Dedupe keys


def test_same_receipt_twice_has_the_same_key() -> None:
    first = parse_one(sms_receipt(status="delivered"))
    retry = parse_one(sms_receipt(status="delivered"))
    assert first.dedupe_key == retry.dedupe_key


def test_different_status_of_the_same_message_has_a_different_key() -> None:
    sending = parse_one(sms_receipt(status="sending"))
    delivered = parse_one(sms_receipt(status="delivered"))
    assert sending.dedupe_key != delivered.dedupe_key


def test_keys_of_different_kinds_do_not_collide() -> None:
    inbound = parse_one({"id": NOTIFICATION_ID, "source_number": "447700912345", "message": "hi"})
    complaint = parse_one(
        {"complaint_id": NOTIFICATION_ID, "notification_id": "x", "to": "a@example.com"}
    )
    receipt = parse_one(sms_receipt())
    assert len({inbound.dedupe_key, complaint.dedupe_key, receipt.dedupe_key}) == 3


# Rejections


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty body: expected JSON"),
        (b'{"id": "x", "status": ', "invalid JSON: Expecting value at line 1 column 23"),
        (b"\xff\xfe{}", "body is not valid UTF-8 (byte 0)"),
        (b"[" + SEED_RECEIPT + b"]", "expected a JSON object, got a JSON array"),
        (b'"delivered"', "expected a JSON object, got a JSON string"),
        (b'{"id": ' + b"9" * 5000 + b"}", "invalid JSON: a number has too many digits"),
        (b"[" * 100_000, "invalid JSON: nested too deeply"),
        (
            b'{"source_number": "447700912345", "message": "\\ud83d"}',
            "invalid JSON: a \\u escape is an unpaired UTF-16 surrogate",
        ),
    ],
    ids=[
        "empty",
        "invalid-json",
        "not-utf8",
        "array",
        "string",
        "huge-number",
        "too-deep",
        "lone-surrogate",
    ],
)
def test_undecodable_bodies_are_rejected(body: bytes, reason: str) -> None:
    assert rejection(body) == reason


def test_an_escaped_surrogate_pair_is_one_character() -> None:
    body = SEED_INBOUND.replace(b'"message": "', b'"message": "\\ud83d\\udcf1 ')
    event = parse_one(body)
    assert isinstance(event, MessageReceived)
    assert event.body is not None and event.body.startswith("\U0001f4f1 ")


def test_object_of_no_known_kind_is_rejected_naming_what_was_expected() -> None:
    reason = rejection({"id": NOTIFICATION_ID, "to": "person@example.com"})
    assert reason.startswith("unrecognised Notify callback (fields: id, to): expected a Notify")
    assert "delivery receipt (id, status, notification_type, to)" in reason
    assert "inbound SMS (id, source_number, destination_number, message, date_received)" in reason
    assert "e-mail complaint (complaint_id, notification_id, to, complaint_date)" in reason


def test_empty_object_is_rejected() -> None:
    assert rejection(b"{}").startswith("unrecognised Notify callback (fields: none)")


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (sms_receipt(id=None), "missing required field 'id'"),
        (sms_receipt(id=""), "missing required field 'id'"),
        (sms_receipt(status=None), "missing required field 'status'"),
        (
            {key: value for key, value in sms_receipt().items() if key != "notification_type"},
            "missing required field 'notification_type'",
        ),
        (
            sms_receipt(notification_type="push"),
            "unsupported notification_type 'push': expected 'sms', 'email' or 'letter'",
        ),
        (
            sms_receipt(completed_at="yesterday"),
            "completed_at: not a timestamp: 'yesterday'",
        ),
        (
            {"id": NOTIFICATION_ID, "date_received": "2023-11-02T18:45:12.000000Z"},
            "missing required field 'source_number'",
        ),
        (
            {"source_number": "447700912345", "message": "hi"},
            "missing required field 'id'",
        ),
        (
            {"notification_id": NOTIFICATION_ID, "complaint_date": "2023-11-03T08:30:00Z"},
            "missing required field 'complaint_id'",
        ),
        (
            {"complaint_id": "c1", "notification_id": NOTIFICATION_ID, "to": None},
            "missing required field 'to'",
        ),
    ],
    ids=[
        "receipt-null-id",
        "receipt-empty-id",
        "receipt-null-status",
        "receipt-no-notification-type",
        "receipt-push",
        "receipt-bad-timestamp",
        "inbound-no-source",
        "inbound-no-id",
        "complaint-no-id",
        "complaint-no-to",
    ],
)
def test_missing_or_bad_fields_are_rejected(payload: dict[str, Any], reason: str) -> None:
    assert rejection(payload) == reason


# Defaults and samples (what every provider must do is in test_contract.py)


def test_defaults_read_national_numbers_as_british() -> None:
    assert (PROVIDER.default_region, PROVIDER.default_timezone) == ("GB", "UTC")


def test_samples_show_every_kind_one_event_each() -> None:
    events = [parse_sample(PROVIDER, sample) for sample in PROVIDER.samples]
    assert all(len(batch) == 1 for batch in events)
    assert {type(batch[0]) for batch in events} == {StatusReported, MessageReceived, OptOutReported}
    channels = {event.channel for batch in events for event in batch}
    assert channels == {Channel.SMS, Channel.EMAIL, Channel.LETTER}


# What the forks' code sends beyond GOV.UK's receipt (issue #17)


def test_gc_notify_failure_keeps_its_words_and_sharpens_the_reason() -> None:
    [event] = parse_sample(
        PROVIDER,
        next(s for s in PROVIDER.samples if s.description.endswith("(GC Notify)")),
    )
    assert event == StatusReported(
        dedupe_key="receipt:0f6c2d7e-8a1b-4c3d-9e5f-a6b7c8d9e0f1:permanent-failure",
        provider_message_id="0f6c2d7e-8a1b-4c3d-9e5f-a6b7c8d9e0f1",
        channel=Channel.SMS,
        status=Status.FAILED,
        provider_status="permanent-failure",
        failure_reason=FailureReason.INVALID_RECIPIENT,
        occurred_at=at(2024, 2, 5, 14, 0, 9),
        recipient="+16135550123",
        reference="rappel-42",
        created_at=at(2024, 2, 5, 14, 0, 0),
        sent_at=at(2024, 2, 5, 14, 0, 1),
        metadata={
            "status_description": "No such number",
            "provider_response": "Invalid phone number",
        },
    )


def test_gc_notify_opted_out_number_is_blocked_and_an_opt_out() -> None:
    """GC Notify marks a number AWS has opted out as technical-failure (send_to_providers.
    update_notification_to_opted_out, process_sns_receipts_tasks.determine_status)."""
    receipt = sms_receipt(
        status="technical-failure",
        to="+16135550123",
        status_description="Tech issue",
        provider_response="Phone number is opted out",
    )
    del receipt["template_id"], receipt["template_version"]
    events = parse(json_request(receipt), UK_RECEIVER)
    assert [type(event) for event in events] == [StatusReported, OptOutReported]
    status, opt_out = events
    assert isinstance(status, StatusReported)
    assert (status.status, status.failure_reason, status.provider_status) == (
        Status.FAILED,
        FailureReason.BLOCKED,
        "technical-failure",
    )
    assert opt_out == OptOutReported(
        dedupe_key=f"optout:{NOTIFICATION_ID}",
        address="+16135550123",
        channel=Channel.SMS,
        occurred_at=at(2023, 11, 2, 9, 0, 7, 250000),
        source="status",
        provider_message_id=NOTIFICATION_ID,
        text="Phone number is opted out",
    )


def test_an_opted_out_email_address_is_blocked_but_no_sms_opt_out() -> None:
    receipt = sms_receipt(
        status="permanent-failure",
        notification_type="email",
        to="Person@Example.com",
        provider_response="The email address is on the GC Notify suppression list",
    )
    [event] = parse(json_request(receipt), UK_RECEIVER)
    assert isinstance(event, StatusReported)
    assert (event.failure_reason, event.recipient) == (FailureReason.BLOCKED, "person@example.com")


VA_REASONS = [
    ("Undeliverable - Phone number is invalid", FailureReason.INVALID_RECIPIENT),
    ("Undeliverable - Individual or carrier has blocked the request", FailureReason.BLOCKED),
    ("Undeliverable - Preferences declined in VA Profile", FailureReason.BLOCKED),
    ("Undeliverable - No VA Profile contact information", FailureReason.INVALID_RECIPIENT),
    ("Undeliverable - No VA Profile found in MPI", FailureReason.INVALID_RECIPIENT),
    ("Undeliverable - Identifier not found in MPI", FailureReason.INVALID_RECIPIENT),
    (
        "Retryable - Notification is unable to be processed at this time. Replay the request"
        " to VA Notify.",
        FailureReason.TEMPORARY,
    ),
]
GC_TEXTS = [
    ("provider_response", "Blocked as spam by phone carrier", FailureReason.BLOCKED),
    ("provider_response", "Destination is on a blocked list", FailureReason.BLOCKED),
    ("provider_response", "Invalid phone number", FailureReason.INVALID_RECIPIENT),
    ("provider_response", "Phone number is opted out", FailureReason.BLOCKED),
    (
        "provider_response",
        "The email address is on the GC Notify suppression list",
        FailureReason.BLOCKED,
    ),
    ("status_description", "No such number", FailureReason.INVALID_RECIPIENT),
    ("status_description", "No such address", FailureReason.INVALID_RECIPIENT),
    ("status_description", "Blocked", FailureReason.BLOCKED),
    ("status_description", "Can't send to this international number", FailureReason.BLOCKED),
]


def test_every_failure_text_is_tested() -> None:
    tested = {text for text, _ in VA_REASONS} | {text for _, text, _ in GC_TEXTS}
    assert tested == set(FAILURE_DETAILS)


@pytest.mark.parametrize(("reason_text", "reason"), VA_REASONS)
def test_va_notify_status_reason_sharpens_a_failure(
    reason_text: str, reason: FailureReason
) -> None:
    event = parse_one(sms_receipt(status="permanent-failure", status_reason=reason_text))
    assert isinstance(event, StatusReported)
    assert event.failure_reason is reason
    assert event.metadata["status_reason"] == reason_text


@pytest.mark.parametrize(("field", "text", "reason"), GC_TEXTS)
def test_gc_notify_texts_sharpen_a_failure(field: str, text: str, reason: FailureReason) -> None:
    event, *opt_out = parse(
        json_request(sms_receipt(status="provider-failure", **{field: text})), UK_RECEIVER
    )
    assert isinstance(event, StatusReported)
    assert event.failure_reason is reason
    assert len(opt_out) == (1 if "opted out" in text else 0)


def test_the_provider_s_words_come_before_the_summary() -> None:
    event = parse_one(
        sms_receipt(
            status="permanent-failure",
            status_description="No such number",
            provider_response="Destination is on a blocked list",
        )
    )
    assert isinstance(event, StatusReported)
    assert event.failure_reason is FailureReason.BLOCKED


@pytest.mark.parametrize(
    "reason_text",
    [
        "Undeliverable - Individual unreachable",
        "Undeliverable - Individual is deceased",
        "Undeliverable - Unable to deliver",
        "undeliverable - phone number is invalid",  # matched exactly, as the fork writes it
    ],
)
def test_other_va_reasons_keep_the_status_reason(reason_text: str) -> None:
    event = parse_one(sms_receipt(status="permanent-failure", status_reason=reason_text))
    assert isinstance(event, StatusReported)
    assert event.failure_reason is FailureReason.PERMANENT


def test_a_failure_text_on_a_success_changes_nothing() -> None:
    event = parse_one(sms_receipt(status="delivered", status_reason="Blocked"))
    assert isinstance(event, StatusReported)
    assert (event.status, event.failure_reason) == (Status.DELIVERED, None)


def test_va_notify_documented_sample() -> None:
    [event] = parse_sample(
        PROVIDER, next(s for s in PROVIDER.samples if s.description.endswith("(VA Notify)"))
    )
    assert event == StatusReported(
        dedupe_key="receipt:6ba01111-f3ee-4a45-9d04-234asdfb6abbb9a:delivered",
        provider_message_id="6ba01111-f3ee-4a45-9d04-234asdfb6abbb9a",
        channel=Channel.SMS,
        status=Status.DELIVERED,
        provider_status="delivered",
        failure_reason=None,
        occurred_at=at(2023, 1, 10, 0, 5, 33, 255911),
        recipient=None,
        created_at=at(2023, 1, 10, 0, 4, 25, 273410),
        sent_at=at(2023, 1, 10, 0, 4, 25, 775363),
        metadata={"status_reason": "", "provider": "pinpoint"},
    )


# Letters


def test_returned_letter_callback_is_a_failed_letter() -> None:
    [event] = parse_sample(
        PROVIDER, next(s for s in PROVIDER.samples if s.description.startswith("Returned letter"))
    )
    assert event == StatusReported(
        dedupe_key="receipt:2c1a0b9e-6f3d-4e8a-9b7c-5d4e3f2a1b0c:returned-letter",
        provider_message_id="2c1a0b9e-6f3d-4e8a-9b7c-5d4e3f2a1b0c",
        channel=Channel.LETTER,
        status=Status.FAILED,
        provider_status="returned-letter",
        failure_reason=FailureReason.PERMANENT,
        occurred_at=None,
        reference="letter-2024-0117",
        created_at=at(2024, 1, 17, 15, 4, 11),
        metadata={
            "sent_by": "API",
            "template_name": "Appointment letter",
            "template_id": "8f7e6d5c-4b3a-4291-8f7e-6d5c4b3a2918",
            "template_version": 2,
        },
    )


def test_returned_letter_from_an_upload_or_a_spreadsheet() -> None:
    """GOV.UK fills in one of the file fields, and leaves date_sent; the markers tell it."""
    upload = {
        "notification_id": NOTIFICATION_ID,
        "reference": None,
        "date_sent": "2024-01-17T15:04:11.000000Z",
        "sent_by": "someone@example.gov.uk",
        "template_name": None,
        "template_id": "None",  # GOV.UK's str(None) for a hidden (precompiled) template
        "template_version": None,
        "spreadsheet_file_name": None,
        "spreadsheet_row_number": None,
        "upload_letter_file_name": "letter.pdf",
    }
    [event] = parse(json_request(upload), UK_RECEIVER)
    assert isinstance(event, StatusReported)
    assert (event.channel, event.status, event.provider_message_id) == (
        Channel.LETTER,
        Status.FAILED,
        NOTIFICATION_ID,
    )
    assert event.metadata == {
        "sent_by": "someone@example.gov.uk",
        "template_id": "None",
        "upload_letter_file_name": "letter.pdf",
    }
    # The same letter's returned-letter receipt, were a fork to send one, is the same event.
    receipt = parse_one(sms_receipt(status="returned-letter", notification_type="letter"))
    assert receipt.dedupe_key == event.dedupe_key


def test_returned_letter_without_its_id_is_rejected() -> None:
    assert rejection({"date_sent": "2024-01-17T15:04:11.000000Z"}) == (
        "missing required field 'notification_id'"
    )


def test_letter_receipt_is_on_the_letter_channel_with_the_address_line_as_given() -> None:
    event = parse_one(sms_receipt(status="received", notification_type="letter", to="A. Person"))
    assert isinstance(event, StatusReported)
    assert (event.channel, event.status, event.recipient) == (
        Channel.LETTER,
        Status.SENT,
        "A. Person",
    )
