"""Postmark: every captured payload parsed, field by field; bounce types, subscription
changes, inbound e-mail, casing drift and the rejections' reasons."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from callbox.model.vocabulary import (
    BounceType,
    Channel,
    FailureReason,
    OptOutSource,
    ReportKind,
    Status,
)
from callbox.providers.base import (
    Event,
    InboundRequest,
    MessageReceived,
    OptOutReported,
    PayloadRejected,
    ReceiverContext,
    StatusReported,
)
from callbox.providers.postmark import POSTMARK_BOUNCE_TYPES, PROVIDER
from tests.providers.captured import postmark, read

CONTEXT = ReceiverContext(name="postmark")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def parse(document: Any) -> list[Event]:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return list(PROVIDER.parse(InboundRequest("POST", body, "application/json"), CONTEXT))


def parse_captured(name: str) -> list[Event]:
    return parse(postmark(name).body)


def rejection(document: Any) -> str:
    with pytest.raises(PayloadRejected) as caught:
        parse(document)
    return caught.value.reason


def test_delivery() -> None:
    assert parse_captured("anymail__test_delivered_event__raw_event") == [
        StatusReported(
            dedupe_key="status:delivery:883953f4-6105-42a2-a16a-77a8eac79483:recipient@example.com",
            provider_message_id="883953f4-6105-42a2-a16a-77a8eac79483",
            channel=Channel.EMAIL,
            status=Status.DELIVERED,
            provider_status="Delivery",
            failure_reason=None,
            # 2014-08-01T13:28:10.2735393-04:00: seven digits, an offset.
            occurred_at=utc("2014-08-01T17:28:10.273539"),
            recipient="recipient@example.com",
            metadata={
                "Tag": "welcome-email",
                "Metadata": {"cohort": "2014-08-A", "userid": "12345"},
                "ServerID": 23,  # spelt ServerId in this payload
            },
            detail="Test delivery webhook details",
        )
    ]


def test_hard_bounce_fails_the_message_and_suppresses_the_deactivated_address() -> None:
    report, opt_out = parse_captured("anymail__test_bounce_event__raw_event")
    details = "smtp;550 5.1.1 The email account that you tried to reach does not exist."
    assert report == StatusReported(
        dedupe_key="status:bounce:901542550",
        provider_message_id="2706ee8a-737c-4285-b032-ccd317af53ed",
        channel=Channel.EMAIL,
        status=Status.FAILED,
        provider_status="HardBounce",
        failure_reason=FailureReason.PERMANENT,
        occurred_at=utc("2016-04-27T20:28:50.396393"),
        recipient="bounce@example.com",
        sender="sender@example.com",
        metadata={"ServerID": 23},
        bounce_type=BounceType.HARD,
        detail=details,
        subject="Postmark event test",
    )
    assert opt_out == OptOutReported(
        dedupe_key="optout:bounce:901542550",
        address="bounce@example.com",
        channel=Channel.EMAIL,
        occurred_at=utc("2016-04-27T20:28:50.396393"),
        source=OptOutSource.SUPPRESSION,  # "Inactive": true
        provider_message_id="2706ee8a-737c-4285-b032-ccd317af53ed",
        text=f"HardBounce: {details}",
    )


def test_an_unsubscribe_bounce_without_email_opts_out_the_message_s_recipient() -> None:
    """django-anymail#447: Postmark sends it without Email; the ledger takes the recipient of
    the message it names (address None)."""
    report, opt_out = parse_captured("anymail__test_bounce_unsubscribe_variant__raw_event")
    assert report == StatusReported(
        dedupe_key="status:bounce:555555555",
        provider_message_id="5555555-5555555-5555-5555555",
        channel=Channel.EMAIL,
        status=Status.DELIVERED,
        provider_status="Unsubscribe",
        failure_reason=None,
        occurred_at=None,
        recipient=None,
        metadata={"MessageStream": "outbound", "ServerID": 111111111},  # "Tag": "" left out
        kind=ReportKind.UNSUBSCRIBED,
        detail="Unsubscribe or Remove request.",
    )
    assert opt_out == OptOutReported(
        dedupe_key="optout:bounce:555555555",
        address=None,
        channel=Channel.EMAIL,
        occurred_at=None,
        source=OptOutSource.UNSUBSCRIBE,
        provider_message_id="5555555-5555555-5555-5555555",
        text="Unsubscribe: Unsubscribe or Remove request.",
    )


def test_open_and_click() -> None:
    (opened,) = parse_captured("anymail__test_open_event__raw_event")
    assert opened == StatusReported(
        dedupe_key="status:open:f4830d10-9c35-4f0c-bca3-3d9b459821f8:recipient@example.com:"
        "2016-04-27T16:21:41.2493688-04:00",
        provider_message_id="f4830d10-9c35-4f0c-bca3-3d9b459821f8",
        channel=Channel.EMAIL,
        status=Status.DELIVERED,
        provider_status="Open",
        failure_reason=None,
        occurred_at=utc("2016-04-27T20:21:41.249368"),
        recipient="recipient@example.com",
        kind=ReportKind.OPENED,
    )
    (clicked,) = parse_captured("anymail__test_click_event__raw_event")
    assert clicked == StatusReported(
        dedupe_key="status:click:f4830d10-9c35-4f0c-bca3-3d9b459821f8:recipient@example.com:"
        "2017-10-25T15:21:11.9065619Z:ecb91692ab73",
        provider_message_id="f4830d10-9c35-4f0c-bca3-3d9b459821f8",
        channel=Channel.EMAIL,
        status=Status.DELIVERED,
        provider_status="Click",
        failure_reason=None,
        occurred_at=utc("2017-10-25T15:21:11.906561"),
        recipient="recipient@example.com",
        metadata={"Tag": "welcome-email"},
        kind=ReportKind.CLICKED,
        detail="https://example.com/click/me",
    )


@pytest.mark.parametrize(
    ("name", "opted_in", "text"),
    [
        ("anymail__test_unsubscribe__raw_event", False, "ManualSuppression (Recipient)"),
        ("anymail__test_resubscribe__raw_event", True, "reactivated (Recipient)"),
    ],
)
def test_subscription_changes_are_opt_outs_and_opt_ins(
    name: str, opted_in: bool, text: str
) -> None:
    assert parse_captured(name) == [
        OptOutReported(
            dedupe_key=f"optout:subscription:john@example.com:2022-06-05T17:17:32Z:{not opted_in}",
            address="john@example.com",
            channel=Channel.EMAIL,
            occurred_at=utc("2022-06-05T17:17:32"),
            source=OptOutSource.UNSUBSCRIBE,  # Origin Recipient: the recipient did it
            opted_in=opted_in,
            provider_message_id="a4909a96-73d7-4c49-b148-a54522d3f7ac",
            text=f"SubscriptionChange: {text}",
        )
    ]


@pytest.mark.parametrize(
    ("reason", "origin", "source"),
    [
        ("HardBounce", "Recipient", OptOutSource.SUPPRESSION),
        ("SpamComplaint", "Recipient", OptOutSource.COMPLAINT),
        ("ManualSuppression", "Customer", OptOutSource.SUPPRESSION),
        ("ManualSuppression", "Recipient", OptOutSource.UNSUBSCRIBE),
        ("SomethingNew", "Admin", OptOutSource.SUPPRESSION),
    ],
)
def test_suppression_reasons_give_the_source(
    reason: str, origin: str, source: OptOutSource
) -> None:
    document = read("postmark", "anymail__test_unsubscribe__raw_event")
    document.update(SuppressionReason=reason, Origin=origin, MessageID=None)
    (opt_out,) = parse(document)
    assert isinstance(opt_out, OptOutReported)
    assert (opt_out.source, opt_out.provider_message_id) == (source, None)


def test_inbound_email() -> None:
    (message,) = parse_captured("anymail__inbound_test_payload")
    assert message == MessageReceived(
        dedupe_key="inbound:00000000-0000-0000-0000-000000000000",
        provider_message_id="00000000-0000-0000-0000-000000000000",
        channel=Channel.EMAIL,
        sender="support@postmarkapp.com",
        recipient="mailbox+samplehash@inbound.postmarkapp.com",  # OriginalRecipient
        body="This is a test text body.",
        occurred_at=utc("2023-05-05T21:44:33"),  # Fri, 5 May 2023 17:44:33 -0400
        metadata={
            "MailboxHash": "SampleHash",
            "Tag": "TestTag",
            "MessageStream": "inbound",
            "ReplyTo": "replyto@example.com",
            "StrippedTextReply": "This is the reply text",
            "Cc": ["firstcc@postmarkapp.com", "secondcc@postmarkapp.com"],
            "Bcc": ["firstbcc@postmarkapp.com"],
            "Attachments": ["test.txt"],
        },
        subject="Test subject",
    )


def test_inbound_date_with_a_colon_in_its_zone_keeps_the_zone() -> None:
    document = read("postmark", "anymail__inbound_test_payload")
    document["Date"] = "Fri, 1 Aug 2014 16:45:32 -04:00"
    (message,) = parse(document)
    assert message.occurred_at == utc("2014-08-01T20:45:32")


@pytest.mark.parametrize(
    ("bounce_type", "kind", "status", "ends"),
    [
        ("SoftBounce", ReportKind.DEFERRED, Status.SENT, False),
        ("Transient", ReportKind.DEFERRED, Status.SENT, False),
        ("DnsError", ReportKind.DEFERRED, Status.SENT, False),
        ("HardBounce", ReportKind.STATUS, Status.FAILED, True),
        ("BadEmailAddress", ReportKind.STATUS, Status.FAILED, True),
        ("SpamComplaint", ReportKind.COMPLAINED, Status.DELIVERED, False),
        ("AutoResponder", ReportKind.STATUS, Status.DELIVERED, True),
        ("BrandNewType", ReportKind.STATUS, Status.UNKNOWN, False),
    ],
)
def test_bounce_types(bounce_type: str, kind: ReportKind, status: Status, ends: bool) -> None:
    document = read("postmark", "anymail__test_bounce_event__raw_event")
    document.update(Type=bounce_type, Inactive=False)
    events = parse(document)
    report = events[0]
    assert isinstance(report, StatusReported)
    assert (report.kind, report.status, report.provider_status) == (kind, status, bounce_type)
    assert (report.kind.changes_status and report.status.is_final) is ends
    # Only complaints (and unsubscribes, and deactivations) reach the ledger.
    assert [type(event) for event in events[1:]] == (
        [OptOutReported] if bounce_type == "SpamComplaint" else []
    )


def test_every_soft_bounce_type_is_a_deferral() -> None:
    soft = {word for word, row in POSTMARK_BOUNCE_TYPES.items() if row[3] is BounceType.SOFT}
    assert soft == {"SoftBounce", "Transient", "DnsError"}
    assert all(POSTMARK_BOUNCE_TYPES[word][2] is ReportKind.DEFERRED for word in soft)


def test_spam_complaint_sample_is_history_and_an_opt_out() -> None:
    (sample,) = [s for s in PROVIDER.samples if s.description.startswith("Spam complaint")]
    report, opt_out = parse(sample.body)
    assert isinstance(report, StatusReported) and isinstance(opt_out, OptOutReported)
    assert (report.kind, report.dedupe_key, opt_out.dedupe_key) == (
        ReportKind.COMPLAINED,
        "status:bounce:42",
        "optout:bounce:42",
    )
    # A complaint is one ledger row, not also a suppression (though it is Inactive too).
    assert (opt_out.address, opt_out.source) == ("john@example.com", OptOutSource.COMPLAINT)


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ([], "expected a JSON object, got a JSON array"),
        (
            {"Subject": "hi"},
            "expected a Postmark webhook (RecordType Delivery, Bounce, SpamComplaint, Open,"
            " Click or SubscriptionChange) or an inbound e-mail (FromFull, Subject, TextBody,"
            " MessageID); got fields: subject",
        ),
        ({"RecordType": "Delivery", "Recipient": "a@b.c"}, "missing required field 'MessageID'"),
        ({"RecordType": "Bounce", "MessageID": "m"}, "missing required field 'Type'"),
        (
            {"RecordType": "Bounce", "Type": "HardBounce"},
            "Postmark bounce without MessageID or Email: nothing to record",
        ),
        (
            {"RecordType": "SubscriptionChange", "Recipient": "a@b.c", "SuppressSending": "yes"},
            "SuppressSending: expected true or false, got a JSON string",
        ),
        (
            {"RecordType": "SubscriptionChange", "Recipient": "nobody", "SuppressSending": True},
            "Recipient: expected an e-mail address, got 'nobody'",
        ),
        (
            {"RecordType": "Delivery", "MessageID": "m", "DeliveredAt": "yesterday"},
            "DeliveredAt: not a timestamp: 'yesterday'",
        ),
        (
            {"From": "a@b.c", "MessageID": "m", "Date": "someday"},
            "Date: not an e-mail date: 'someday'",
        ),
        ({"FromFull": [], "MessageID": "m"}, "FromFull: expected an object, got a JSON array"),
        ({"From": "Support", "MessageID": "m"}, "From: expected an e-mail address, got 'Support'"),
    ],
)
def test_rejections_name_the_problem(document: Any, reason: str) -> None:
    assert rejection(document) == reason


def test_casing_drift_is_read_alike() -> None:
    document = read("postmark", "anymail__test_delivered_event__raw_event")
    drifted = {key.upper(): value for key, value in document.items()}
    assert parse(drifted) == parse(document)
