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
from callbox.providers.notify import NOTIFY_STATUSES, PROVIDER, parse
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


@pytest.mark.parametrize("value", ["virus-scan-failed", "preferences-declined", "returned-letter"])
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
            sms_receipt(notification_type="letter"),
            "unsupported notification_type 'letter': expected 'sms' or 'email'",
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
        "receipt-letter",
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
