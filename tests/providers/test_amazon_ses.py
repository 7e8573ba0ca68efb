"""Amazon SES through SNS: the envelope, each SES event, and SNS's signature verified against a
local stand-in for SNS's HTTPS hosts (tests/fake_sns.py), with the app's own fetcher."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from callbox.ingest.fetcher import HttpsFetcher
from callbox.model.vocabulary import (
    BounceType,
    Channel,
    FailureReason,
    OptOutSource,
    ReportKind,
    Status,
)
from callbox.providers import amazon_ses
from callbox.providers.amazon_ses import PROVIDER, SES_STATUSES, SesOptions, parse
from callbox.providers.base import (
    InboundRequest,
    MessageReceived,
    OptOutReported,
    PayloadRejected,
    ReceiverContext,
    SignatureKey,
    SignatureRejected,
    SignedRequest,
    StatusReported,
    Unreachable,
)
from callbox.receivers import prepare_receiver
from callbox.settings import Auth, ConfigError, Receiver
from tests.fake_sns import (
    OTHER_TOPIC,
    ROTATED_CERT_NAME,
    TOPIC,
    FakeSns,
    body_of,
    confirmation,
    notification,
    running_fake_sns,
    sns_now,
)
from tests.providers.contract import parse_sample

RECEIVER = ReceiverContext(name="ses", options=SesOptions())
PAYLOADS = Path("/work/shared/payloads/aws-sns-ses")


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def sns_post(document: Any, content_type: str = "text/plain") -> InboundRequest:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return InboundRequest(method="POST", body=body, content_type=content_type)


def events_of(ses_event: dict[str, Any]) -> list[Any]:
    return list(parse(sns_post(notification(ses_event)), RECEIVER))


# The SES events of django-anymail's tests (tests/test_amazon_ses_webhooks.py), from AWS's docs.
OPEN_EVENT = {
    "eventType": "Open",
    "mail": {
        "destination": ["recipient@example.com"],
        "messageId": "7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
    },
    "open": {
        "ipAddress": "192.0.2.1",
        "timestamp": "2017-08-09T22:00:19.652Z",
        "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 10_3_3 like Mac OS X)...",
    },
}
CLICK_EVENT = {
    "eventType": "Click",
    "click": {
        "ipAddress": "192.0.2.1",
        "link": "https://docs.aws.amazon.com/ses/latest/DeveloperGuide/",
        "linkTags": {"samplekey0": ["samplevalue0"], "samplekey1": ["samplevalue1"]},
        "timestamp": "2017-08-09T23:51:25.570Z",
        "userAgent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36...",
    },
    "mail": {
        "destination": ["recipient@example.com"],
        "messageId": "7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
    },
}
SEND_EVENT = {
    "eventType": "Send",
    "mail": {
        "timestamp": "2016-10-14T05:02:16.645Z",
        "messageId": "7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
        "destination": ["recipient@example.com"],
        "tags": {"ses:configuration-set": ["ConfigSet"], "myCustomTag1": ["myCustomTagValue1"]},
    },
    "send": {},
}
DELAY_EVENT = {  # AWS's DeliveryDelay example, abridged
    "eventType": "DeliveryDelay",
    "mail": {
        "timestamp": "2020-06-16T00:15:40.641Z",
        "messageId": "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000",
        "destination": ["recipient@example.com"],
    },
    "deliveryDelay": {
        "timestamp": "2020-06-16T00:25:40.095Z",
        "delayType": "TransientCommunicationFailure",
        "expirationTime": "2020-06-16T00:25:40.914Z",
        "delayedRecipients": [
            {"emailAddress": "recipient@example.com", "status": "4.4.1", "diagnosticCode": "smtp"}
        ],
    },
}


def bounce(bounce_type: str, subtype: str, *recipients: str) -> dict[str, Any]:
    return {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": bounce_type,
            "bounceSubType": subtype,
            "bouncedRecipients": [{"emailAddress": r} for r in recipients],
            "timestamp": "2016-01-27T14:59:44.101Z",
            "feedbackId": "00000138111222aa-44455566-cccc-cccc-cccc-ddddaaaa068a-000000",
        },
        "mail": {
            "timestamp": "2016-01-27T14:59:38.237Z",
            "source": "john@example.com",
            "messageId": "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000",
            "destination": list(recipients),
        },
    }


# --- Each kind of SES event --------------------------------------------------------------------


def test_the_documented_permanent_bounce_fails_the_recipient() -> None:
    event, opt_out = parse_sample(PROVIDER, PROVIDER.samples[0])
    assert event == StatusReported(
        dedupe_key=(
            "status:00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000"
            ":jane@example.com:Bounce/Permanent/General"
        ),
        provider_message_id="00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000",
        channel=Channel.EMAIL,
        status=Status.FAILED,
        provider_status="Bounce/Permanent/General",
        failure_reason=FailureReason.PERMANENT,
        occurred_at=utc("2016-01-27T14:59:44.101Z"),
        recipient="jane@example.com",
        sender="john@example.com",
        metadata={
            "subject": "Hello",
            "bounceType": "Permanent",
            "bounceSubType": "General",
            "feedbackId": "00000138111222aa-44455566-cccc-cccc-cccc-ddddaaaa068a-000000",
            "status": "5.1.1",
            "action": "failed",
            "diagnosticCode": "smtp; 550 5.1.1 <jane@example.com>... User unknown",
        },
        kind=ReportKind.STATUS,
        bounce_type=BounceType.HARD,
        detail="smtp; 550 5.1.1 <jane@example.com>... User unknown",
        subject="Hello",
    )
    # SES puts a hard-bounced address on its suppression list: the ledger opts it out too.
    assert opt_out == OptOutReported(
        dedupe_key="optout:00000138111222aa-44455566-cccc-cccc-cccc-ddddaaaa068a-000000"
        ":jane@example.com",
        address="jane@example.com",
        channel=Channel.EMAIL,
        occurred_at=utc("2016-01-27T14:59:44.101Z"),
        source=OptOutSource.SUPPRESSION,
        provider_message_id="00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000",
        text="Bounce/Permanent/General: smtp; 550 5.1.1 <jane@example.com>... User unknown",
    )


def test_several_bounced_recipients_are_one_event_each() -> None:
    everything = parse_sample(PROVIDER, PROVIDER.samples[2])
    # NoEmail is a hard bounce: each recipient's status, then its suppression opt-out.
    assert [type(e).__name__ for e in everything] == ["StatusReported", "OptOutReported"] * 2
    assert [e.address for e in everything if isinstance(e, OptOutReported)] == [
        "nobody@example.com",
        "gone@example.org",
    ]
    events = [e for e in everything if isinstance(e, StatusReported)]
    assert [(e.recipient, e.status, e.failure_reason) for e in events] == [  # type: ignore[union-attr]
        ("nobody@example.com", Status.FAILED, FailureReason.INVALID_RECIPIENT),
        ("gone@example.org", Status.FAILED, FailureReason.INVALID_RECIPIENT),
    ]
    assert len({event.dedupe_key for event in events}) == 2
    message_id = "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"
    assert {event.provider_message_id for event in events} == {message_id}
    # "Sender Name <sender@example.com>" in mail.source is the address only.
    assert {event.sender for event in events} == {"sender@example.com"}  # type: ignore[union-attr]
    assert [event.metadata["diagnosticCode"] for event in events] == [  # type: ignore[union-attr]
        "smtp; 550 5.1.1 user unknown",
        "smtp; 550 5.1.1 mailbox does not exist",
    ]


@pytest.mark.parametrize(
    ("subtype", "reason", "bounce_type"),
    [
        ("General", FailureReason.PERMANENT, BounceType.HARD),
        ("NoEmail", FailureReason.INVALID_RECIPIENT, BounceType.HARD),
        ("Suppressed", FailureReason.BLOCKED, BounceType.SUPPRESSED),
        ("OnAccountSuppressionList", FailureReason.BLOCKED, BounceType.SUPPRESSED),
        ("UnsubscribedRecipient", FailureReason.BLOCKED, BounceType.SUPPRESSED),
        ("SomethingAwsAddsLater", FailureReason.PERMANENT, BounceType.HARD),
    ],
)
def test_permanent_bounce_subtypes(
    subtype: str, reason: FailureReason, bounce_type: BounceType
) -> None:
    event, *opt_outs = events_of(bounce("Permanent", subtype, "jane@example.com"))
    assert (event.status, event.failure_reason) == (Status.FAILED, reason)
    assert (event.kind, event.bounce_type) == (ReportKind.STATUS, bounce_type)
    assert event.provider_status == f"Bounce/Permanent/{subtype}"
    # Only a hard bounce adds an opt-out: a suppressed one was not sent (already on a list).
    if bounce_type is BounceType.HARD:
        (opt_out,) = opt_outs
        assert isinstance(opt_out, OptOutReported)
        assert (opt_out.address, opt_out.source) == ("jane@example.com", OptOutSource.SUPPRESSION)
    else:
        assert opt_outs == []


@pytest.mark.parametrize(
    ("ses_event", "word", "status", "kind", "bounce_type", "detail"),
    [
        (
            bounce("Transient", "MailboxFull", "jane@example.com"),
            "Bounce/Transient",
            Status.SENT,
            ReportKind.DEFERRED,
            BounceType.SOFT,
            None,
        ),
        (  # e.g. an auto-reply, which can follow a delivery
            bounce("Transient", "General", "jane@example.com"),
            "Bounce/Transient",
            Status.SENT,
            ReportKind.DEFERRED,
            BounceType.SOFT,
            None,
        ),
        (
            bounce("Undetermined", "Undetermined", "jane@example.com"),
            "Bounce/Undetermined",
            Status.SENT,
            ReportKind.DEFERRED,
            BounceType.UNDETERMINED,
            None,
        ),
        (SEND_EVENT, "Send", Status.SENT, ReportKind.STATUS, None, None),
        (OPEN_EVENT, "Open", Status.DELIVERED, ReportKind.OPENED, None, None),
        (
            CLICK_EVENT,
            "Click",
            Status.DELIVERED,
            ReportKind.CLICKED,
            None,
            "https://docs.aws.amazon.com/ses/latest/DeveloperGuide/",
        ),
        (DELAY_EVENT, "DeliveryDelay", Status.SENT, ReportKind.DEFERRED, BounceType.SOFT, "smtp"),
    ],
    ids=["Transient-MailboxFull", "Transient-General", "Undetermined", "Send", "Open", "Click",
         "DeliveryDelay"],
)  # fmt: skip
def test_sends_deferrals_and_engagement_are_reports_of_their_kind(
    ses_event: dict[str, Any],
    word: str,
    status: Status,
    kind: ReportKind,
    bounce_type: BounceType | None,
    detail: str | None,
) -> None:
    (event,) = events_of(ses_event)  # no opt-out: none of them is a hard bounce
    assert isinstance(event, StatusReported)
    assert (event.provider_status, event.status, event.failure_reason) == (word, status, None)
    assert (event.kind, event.bounce_type, event.detail) == (kind, bounce_type, detail)
    # Open and click name no recipient: the only destination is the one.
    assert event.recipient in {"jane@example.com", "recipient@example.com"}
    assert event.provider_message_id == ses_event["mail"]["messageId"]


def test_report_dedupe_keys_tell_repeated_reports_apart() -> None:
    """Each open and click, each deferral, is a report of its own: keys differ by time (and
    link), and a report sent twice has the same key."""
    later_open = {**OPEN_EVENT, "open": {**OPEN_EVENT["open"], "timestamp": "2017-08-10T08:00Z"}}
    other_link = {**CLICK_EVENT, "click": {**CLICK_EVENT["click"], "link": "https://example.com"}}
    keys = [events_of(e)[0].dedupe_key for e in (OPEN_EVENT, later_open, CLICK_EVENT, other_link)]
    assert len(set(keys)) == 4
    assert events_of(OPEN_EVENT)[0].dedupe_key == keys[0]
    transient = bounce("Transient", "General", "jane@example.com")
    (first,) = events_of(transient)
    transient["bounce"]["feedbackId"] = "another-feedback-id"
    (second,) = events_of(transient)
    assert first.dedupe_key != second.dedupe_key


def test_an_open_of_a_message_sent_to_several_names_no_recipient() -> None:
    several = {**OPEN_EVENT, "mail": {**OPEN_EVENT["mail"], "destination": ["a@x.org", "b@x.org"]}}
    (event,) = events_of(several)
    assert event.recipient is None and event.kind is ReportKind.OPENED


def subscription(new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
    return {
        "eventType": "Subscription",
        "mail": {
            "timestamp": "2022-01-12T01:00:14.340Z",
            "messageId": "EXAMPLEe4bccf770-1b87-4a8b-a1d2-1e0b8a9dd6c7-000000",
            "source": "sender@example.com",
            "destination": ["recipient@example.com"],
        },
        "subscription": {
            "contactList": "ContactListName",
            "timestamp": "2022-01-12T01:00:17.910Z",
            "source": "UnsubscribeHeader",
            "newTopicPreferences": new,
            "oldTopicPreferences": old,
        },
    }


def test_unsubscribing_from_a_whole_contact_list_opts_out_and_back_in() -> None:
    subscribed = {"unsubscribeAll": False, "topicSubscriptionStatus": []}
    report, opt_out = events_of(subscription({"unsubscribeAll": True}, subscribed))
    assert isinstance(report, StatusReported) and isinstance(opt_out, OptOutReported)
    assert (report.kind, report.recipient) == (ReportKind.UNSUBSCRIBED, "recipient@example.com")
    assert report.detail == "unsubscribed from all topics of ContactListName"
    assert (opt_out.address, opt_out.source, opt_out.opted_in) == (
        "recipient@example.com",
        OptOutSource.UNSUBSCRIBE,
        False,
    )
    assert opt_out.occurred_at == utc("2022-01-12T01:00:17.910Z")
    (opt_in,) = events_of(subscription(subscribed, {"unsubscribeAll": True}))
    assert isinstance(opt_in, OptOutReported) and opt_in.opted_in is True


def test_unsubscribing_from_some_topics_is_kept_in_the_history_only() -> None:
    topics = {
        "unsubscribeAll": False,
        "topicSubscriptionStatus": [
            {"topicName": "News", "subscriptionStatus": "OptOut"},
            {"topicName": "Offers", "subscriptionStatus": "OptIn"},
        ],
    }
    (report,) = events_of(subscription(topics, {"unsubscribeAll": False}))
    assert isinstance(report, StatusReported)
    assert report.kind is ReportKind.UNSUBSCRIBED
    assert report.detail == "unsubscribed from News of ContactListName"
    # Nothing changed: nothing to report; no subscription object: rejected like any other.
    assert events_of(subscription({"unsubscribeAll": False}, {"unsubscribeAll": False})) == []
    with pytest.raises(PayloadRejected, match="subscription: missing"):
        events_of({"eventType": "Subscription", "mail": {"messageId": "m-1", "destination": []}})


def test_an_event_type_ses_adds_later_gives_no_event() -> None:
    assert events_of({"eventType": "SomethingNew", "mail": {"messageId": "m-1"}}) == []


def test_delivery_is_delivered_for_each_recipient_it_names() -> None:
    (event,) = parse_sample(PROVIDER, PROVIDER.samples[1])
    assert isinstance(event, StatusReported)
    assert (event.status, event.provider_status, event.recipient) == (
        Status.DELIVERED,
        "Delivery",
        "jane@example.com",  # of the three destinations, the one this delivery names
    )
    assert event.occurred_at == utc("2016-01-27T14:59:38.237Z")
    assert event.metadata == {
        "smtpResponse": "250 ok:  Message 64111812 accepted",
        "reportingMTA": "a8-70.smtp-out.amazonses.com",
    }


def test_complaint_opts_each_complainant_out() -> None:
    report, event = parse_sample(PROVIDER, PROVIDER.samples[3])
    assert isinstance(report, StatusReported)
    assert (report.kind, report.status, report.recipient, report.detail) == (
        ReportKind.COMPLAINED,
        Status.DELIVERED,
        "richard@example.com",
        "complaint abuse",
    )
    assert report.dedupe_key == (
        "status:000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000:richard@example.com"
    )
    assert event == OptOutReported(
        dedupe_key="optout:000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000"
        ":richard@example.com",
        address="richard@example.com",
        channel=Channel.EMAIL,
        occurred_at=utc("2016-01-27T14:59:38.237Z"),
        source=OptOutSource.COMPLAINT,
        provider_message_id="000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000",
        text="complaint abuse",
    )
    not_spam = json.loads(json.loads(PROVIDER.samples[3].body)["Message"])
    not_spam["complaint"]["complaintFeedbackType"] = "not-spam"
    assert events_of(not_spam) == []


def test_reject_and_rendering_failure_fail_every_destination() -> None:
    (reject,) = parse_sample(PROVIDER, PROVIDER.samples[4])
    (rendering,) = parse_sample(PROVIDER, PROVIDER.samples[5])
    assert isinstance(reject, StatusReported) and isinstance(rendering, StatusReported)
    assert (reject.status, reject.failure_reason, reject.recipient) == (
        Status.FAILED,
        FailureReason.BLOCKED,
        "recipient@example.com",
    )
    assert reject.metadata == {"reason": "Bad content"}
    assert reject.occurred_at == utc("2016-10-14T17:38:15.211Z")  # mail.timestamp
    assert (rendering.status, rendering.failure_reason) == (Status.FAILED, FailureReason.TECHNICAL)
    assert rendering.metadata["templateName"] == "MyTemplate"
    # No mail.timestamp: the SNS message's Timestamp.
    assert rendering.occurred_at == utc("2017-08-09T22:00:19.652Z")


def test_received_is_an_inbound_email_with_its_text_part() -> None:
    (event,) = parse_sample(PROVIDER, PROVIDER.samples[6])
    assert event == MessageReceived(
        dedupe_key="inbound:jili9m351il3gkburn7o2f0u6788stij94c8ld01",
        provider_message_id="jili9m351il3gkburn7o2f0u6788stij94c8ld01",
        channel=Channel.EMAIL,
        sender="from@example.org",
        recipient="inbound@example.com",
        body="It's a body\N{HORIZONTAL ELLIPSIS}\r\n",
        occurred_at=utc("2018-03-30T17:21:51.636Z"),
        provider_status="Received",
        metadata={
            "subject": "Test inbound message",
            "type": "SNS",
            "envelope_sender": "envelope-from@example.org",
            "spamVerdict": "PASS",
            "virusVerdict": "PASS",
        },
        subject="Test inbound message",
    )


def test_received_content_may_be_base64_or_left_in_s3() -> None:
    ses_event = json.loads(json.loads(PROVIDER.samples[6].body)["Message"])
    content = ses_event["content"].encode()
    ses_event["receipt"]["action"]["encoding"] = "BASE64"
    ses_event["content"] = base64.b64encode(content).decode()
    (event,) = events_of(ses_event)
    assert event.body == "It's a body\N{HORIZONTAL ELLIPSIS}\r\n"

    del ses_event["content"]
    ses_event["receipt"]["action"] = {
        "type": "S3",
        "bucketName": "inbound-mail",
        "objectKey": "inbound/jili9m351il3gkburn7o2f0u6788stij94c8ld01",
    }
    (event,) = events_of(ses_event)
    assert event.body is None
    assert event.metadata["objectKey"] == "inbound/jili9m351il3gkburn7o2f0u6788stij94c8ld01"

    ses_event["content"] = "not base64!"
    ses_event["receipt"]["action"]["encoding"] = "BASE64"
    with pytest.raises(PayloadRejected, match="content: not base64"):
        events_of(ses_event)


# --- The SNS envelope --------------------------------------------------------------------------


def test_subscription_messages_and_the_validation_string_are_recorded_without_events() -> None:
    for kind in ("SubscriptionConfirmation", "UnsubscribeConfirmation"):
        assert parse(sns_post(confirmation(kind)), RECEIVER) == []
    validation = notification(amazon_ses.VALIDATION_MESSAGE)
    assert parse(sns_post(validation), RECEIVER) == []


def test_json_is_read_whatever_the_content_type_says() -> None:
    body = PROVIDER.samples[1].body
    for content_type in ("text/plain", "application/json", ""):
        (event,) = parse(sns_post(body, content_type), RECEIVER)
        assert event.provider_status == "Delivery"  # type: ignore[union-attr]


def test_raw_message_delivery_posts_the_ses_event_itself() -> None:
    event, _ = parse(sns_post(bounce("Permanent", "General", "jane@example.com")), RECEIVER)
    assert event.provider_status == "Bounce/Permanent/General"  # type: ignore[union-attr]
    # Without the envelope there is no SNS Timestamp to fall back on, and none is needed.
    assert event.occurred_at == utc("2016-01-27T14:59:44.101Z")


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ({"Type": "Nonsense"}, "unknown SNS message Type 'Nonsense'"),
        ({"MessageId": "x"}, "missing Type"),
        (notification("hello, not SES"), "SNS Message is not an Amazon SES event"),
        ({**notification({}), "Message": 12}, "SNS Message: expected a JSON string"),
        (notification("[1, 2]"), "not an Amazon SES event"),
        (notification("{not json"), "SNS Message: invalid JSON"),
        (notification({"mail": {}}), "needs eventType or notificationType"),
        (notification({"eventType": "Delivery"}), "mail: missing"),
        (notification({"eventType": "Delivery", "mail": {}}), "missing mail.messageId"),
        (
            notification({"eventType": "Delivery", "mail": {"messageId": "m"}}),
            "delivery: missing",
        ),
        (
            notification(
                {
                    "notificationType": "Bounce",
                    "mail": {"messageId": "m"},
                    "bounce": {"bounceType": "Permanent", "bouncedRecipients": "jane"},
                }
            ),
            "bounce.bouncedRecipients: expected a JSON array of objects",
        ),
        (
            notification(
                {
                    "notificationType": "Bounce",
                    "mail": {"messageId": "m"},
                    "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{}]},
                }
            ),
            r"missing bounce.bouncedRecipients\[0\].emailAddress",
        ),
        (
            notification(
                {
                    "eventType": "Delivery",
                    "mail": {"messageId": "m", "timestamp": "yesterday"},
                    "delivery": {"recipients": []},
                }
            ),
            "mail.timestamp: not a timestamp",
        ),
        # django-anymail's "incorrect received event": a Received notification with nothing.
        (
            {
                "Type": "Notification",
                "MessageId": "8f6dee70-c885-558a-be7d-bd48bbf5335e",
                "TopicArn": "arn:aws:sns:us-east-1:111111111111:SES_Inbound",
                "Message": '{"notificationType": "Received"}',
            },
            "mail: missing",
        ),
    ],
)
def test_unreadable_messages_are_rejected_naming_the_field(
    document: dict[str, Any], reason: str
) -> None:
    with pytest.raises(PayloadRejected, match=reason):
        parse(sns_post(document), RECEIVER)


def test_every_payload_of_the_shared_folder_is_read_as_documented() -> None:
    """The folder's files (when at hand): envelopes as they are, raw SES events posted as raw
    message delivery; what each gives."""
    if not PAYLOADS.is_dir():
        pytest.skip("the shared payload folder is not available here")
    expected = {
        "anymail__sns_SubscriptionConfirmation.json": [],
        "anymail__sns_UnsubscribeConfirmation.json": [],
        "anymail__sns_envelope_notification_bounce.json": [
            "Bounce/Permanent/General",
            "OptOutReported",
        ],
        "anymail__sns_notification_non_json_message_successfully_validated.json": [],
        "anymail__test_bounce_event__raw_ses_event.json": [
            "Bounce/Permanent/General",
            "OptOutReported",
        ],
        "anymail__test_click_event__raw_ses_event.json": ["Click"],
        "anymail__test_delivery_event__raw_ses_event.json": ["Delivery"],
        "anymail__test_incorrect_received_event__raw_sns_message.json": "mail: missing",
        "anymail__test_open_event__raw_ses_event.json": ["Open"],
        "anymail__test_reject_event__raw_ses_event.json": ["Reject"],
        "anymail__test_rendering_failure_event__raw_ses_event.json": ["Rendering Failure"],
        "anymail__test_send_event__raw_ses_event.json": ["Send"],
    }
    files = {path.name: path.read_bytes() for path in PAYLOADS.glob("*.json")}
    assert sorted(files) == sorted(expected)
    for name, outcome in expected.items():
        if isinstance(outcome, str):
            with pytest.raises(PayloadRejected, match=outcome):
                parse(sns_post(files[name]), RECEIVER)
            continue
        events = parse(sns_post(files[name]), RECEIVER)
        words = [
            event.provider_status if isinstance(event, StatusReported) else type(event).__name__
            for event in events
        ]
        assert words == outcome, name


def test_every_mapped_word_is_a_ses_status() -> None:
    for status, reason, kind, bounce_type in SES_STATUSES.values():
        assert status in Status and kind in ReportKind
        assert reason is None or reason in FailureReason
        assert bounce_type is None or bounce_type in BounceType
        # Only a status report may fail a message; the others leave it as it is.
        assert kind is ReportKind.STATUS or status is not Status.FAILED


# --- Configuration -------------------------------------------------------------------------


def test_outbound_settings_are_checked_and_read_from_the_environment(tmp_path: Path) -> None:
    from callbox.settings import Outbound, load_settings

    for bad, problem in (
        ({"timeout_seconds": 0}, "timeout_seconds must be more than 0"),
        ({"timeout_seconds": 61}, "at most 60"),
        ({"ca_bundle": str(tmp_path / "absent.pem")}, "ca_bundle: no such file"),
        ({"proxy": "127.0.0.1:3128"}, "proxy: expected an http"),
    ):
        with pytest.raises(ValueError, match=problem):
            Outbound(**bad)  # type: ignore[arg-type]
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = load_settings(
        None,
        environ={
            "CALLBOX_OUTBOUND__TIMEOUT_SECONDS": "2.5",
            "CALLBOX_OUTBOUND__CA_BUNDLE": str(bundle),
            "CALLBOX_OUTBOUND__PROXY": "http://egress.internal:3128",
        },
    )
    assert settings.outbound == Outbound(
        timeout_seconds=2.5, ca_bundle=str(bundle), proxy="http://egress.internal:3128"
    )


def test_signature_keys_are_topic_arns() -> None:
    receiver = Receiver(name="ses", provider="amazon_ses", auth=Auth(signature=[TOPIC]))
    assert prepare_receiver(receiver, 0).signature_keys == (TOPIC,)
    bad = Receiver(name="ses", provider="amazon_ses", auth=Auth(signature=["ses-events"]))
    with pytest.raises(ConfigError, match=r"signature\[0\]: not a SNS topic ARN: expected an SNS"):
        prepare_receiver(bad, 0)
    assert prepare_receiver(
        Receiver(name="ses", provider="amazon_ses", options={"auto_confirm": False}), 0
    ).context.options == SesOptions(auto_confirm=False)


# --- The signature, against the stand-in for SNS -------------------------------------------------


@pytest.fixture(scope="module")
def fake_sns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeSns]:
    with running_fake_sns(tmp_path_factory.mktemp("fake-sns")) as fake:
        yield fake


@pytest.fixture
def sns(fake_sns: FakeSns) -> FakeSns:
    fake_sns.reset()
    return fake_sns


def signed_request(message: dict[str, Any], **headers: str) -> SignedRequest:
    return SignedRequest(
        method="POST",
        url="",
        headers={"content-type": "text/plain; charset=UTF-8", **headers},
        query_string="",
        body=body_of(message),
        content_type="text/plain",
    )


async def verified(
    sns: FakeSns,
    message: dict[str, Any],
    topics: tuple[str, ...] = (TOPIC,),
    *,
    seconds: float = 5,
    now: datetime | None = None,
    fetcher: HttpsFetcher | None = None,
    **headers: str,
) -> list[SignatureKey]:
    """Verify as the app does: fetch the certificate, then verify with it."""
    scheme = PROVIDER.signature
    assert scheme is not None and scheme.fetch_keys is not None
    request = signed_request(message, **headers)
    own = fetcher or HttpsFetcher(sns.outbound(timeout_seconds=seconds))
    try:
        keys = list(await scheme.fetch_keys(request, topics, RECEIVER, own))
        scheme.verify(request, keys, RECEIVER, now or datetime.now(UTC))
    finally:
        if fetcher is None:
            await own.aclose()
    return keys


def delivery_message(**changes: Any) -> dict[str, Any]:
    ses_event = json.loads(json.loads(PROVIDER.samples[1].body)["Message"])
    return {**notification(ses_event), **changes}


@pytest.mark.parametrize("version", ["1", "2"])
async def test_a_message_signed_by_the_certificate_at_an_sns_host_verifies(
    sns: FakeSns, version: str
) -> None:
    keys = await verified(sns, sns.sign(delivery_message(), version=version))
    assert [key.certificate_url for key in keys] == [sns.cert_url()]
    # Fetched over TLS from the SNS host itself (through the configured proxy).
    assert sns.connects == ["sns.us-east-1.amazonaws.com:443"]
    assert sns.requests == [("sns.us-east-1.amazonaws.com", "/SimpleNotificationService-test.pem")]


async def test_messages_without_subject_and_confirmations_verify(sns: FakeSns) -> None:
    await verified(sns, sns.sign(notification(OPEN_EVENT, subject=None), version="2"))
    await verified(sns, sns.sign(confirmation()))
    await verified(sns, sns.sign(confirmation("UnsubscribeConfirmation")))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda m: m | {"Message": m["Message"].replace("jane@", "john@")},
        lambda m: m | {"Timestamp": sns_now(timedelta(seconds=1))},
        lambda m: m | {"Subject": "Amazon SES Email Event Notification!"},
        lambda m: {k: v for k, v in m.items() if k != "Subject"},
        lambda m: m | {"TopicArn": TOPIC + "2"},
        lambda m: m | {"Type": "SubscriptionConfirmation", "Token": "t", "SubscribeURL": "u"},
        lambda m: m | {"SignatureVersion": "2" if m["SignatureVersion"] == "1" else "1"},
        lambda m: m | {"Signature": base64.b64encode(b"\0" * 256).decode()},
    ],
    ids=[
        "message",
        "timestamp",
        "subject",
        "subject-removed",
        "topic",
        "type",
        "version",
        "signature",
    ],
)
async def test_a_tampered_message_is_refused(sns: FakeSns, tamper: Any) -> None:
    message = tamper(sns.sign(delivery_message()))
    topics = (TOPIC, TOPIC + "2")
    with pytest.raises(SignatureRejected):
        await verified(sns, message, topics)


async def test_a_message_signed_with_another_key_is_refused(sns: FakeSns) -> None:
    # Signed by the rotated key, but naming the certificate of the first: no match.
    forged = sns.sign(delivery_message(), key=sns.rotated_key)
    with pytest.raises(SignatureRejected, match="signature does not match"):
        await verified(sns, forged)
    # Naming the certificate of its own key (SNS rotating its certificate): verifies.
    rotated = sns.sign(
        delivery_message(), key=sns.rotated_key, cert_url=sns.cert_url(name=ROTATED_CERT_NAME)
    )
    await verified(sns, rotated)


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.us-east-1.amazonaws.com.evil.example/SimpleNotificationService-test.pem",
        "https://s3.amazonaws.com/SimpleNotificationService-test.pem",
        "https://sns-us-east-1.amazonaws.com/SimpleNotificationService-test.pem",
        "https://evil.example/sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem",
        "https://sns.us-east-1.amazonaws.com@evil.example/SimpleNotificationService-test.pem",
        "https://evil.example#@sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem",
        "https://sns.us-east-1.amazonaws.com\\@evil.example/SimpleNotificationService-test.pem",
        "https://sns.us-east-1.amazonaws.com:8443/SimpleNotificationService-test.pem",
        "https://SNS.us-east-1.amazonaws.com/SimpleNotificationService-test.pem",
        "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem",
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem?x=1",
        "https://sns.us-east-1.amazonaws.com/not-a-pem.txt",
    ],
)
async def test_a_certificate_url_off_an_sns_host_is_refused_before_any_request(
    sns: FakeSns, url: str
) -> None:
    message = sns.sign(delivery_message(), cert_url=url)
    with pytest.raises(SignatureRejected, match="SigningCertURL"):
        await verified(sns, message)
    assert sns.connects == [] and sns.requests == []


async def test_a_topic_not_trusted_is_refused_before_any_request(sns: FakeSns) -> None:
    message = sns.sign(delivery_message(TopicArn=OTHER_TOPIC))
    with pytest.raises(SignatureRejected, match=f"topic {OTHER_TOPIC} is not one this receiver"):
        await verified(sns, message)
    # Anyone can point their own topic at the URL: SNS signs a confirmation of it too.
    with pytest.raises(SignatureRejected, match="is not one this receiver trusts"):
        await verified(sns, sns.sign(confirmation(topic=OTHER_TOPIC)))
    assert sns.requests == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"SignatureVersion": "3"}, "SignatureVersion '3' is not 1 or 2"),
        ({"SignatureVersion": None}, "SignatureVersion None is not 1 or 2"),
        ({"Signature": None}, "SNS message without Signature"),
        ({"Signature": "not base64!"}, "Signature is not base64"),
        ({"MessageId": None}, "SNS message without MessageId"),
        ({"Message": {"not": "text"}}, "SNS message without Message"),
    ],
)
async def test_an_incomplete_message_is_refused_before_any_request(
    sns: FakeSns, change: dict[str, Any], reason: str
) -> None:
    message = {**sns.sign(delivery_message()), **change}
    with pytest.raises(SignatureRejected, match=reason):
        await verified(sns, {k: v for k, v in message.items() if v is not None})
    assert sns.requests == []


async def test_the_timestamp_must_be_within_the_hour_sns_retries_for(sns: FakeSns) -> None:
    message = sns.sign(delivery_message())
    now = datetime.now(UTC)
    await verified(sns, message, now=now + timedelta(minutes=64))
    for late in (now + timedelta(minutes=66), now - timedelta(minutes=6)):
        with pytest.raises(SignatureRejected, match="Timestamp is more than 3900 s old"):
            await verified(sns, message, now=late)


async def test_headers_that_contradict_the_message_are_refused(sns: FakeSns) -> None:
    message = sns.sign(delivery_message())
    await verified(sns, message, **{"x-amz-sns-message-type": "Notification"})
    with pytest.raises(SignatureRejected, match="x-amz-sns-message-type header does not match"):
        await verified(sns, message, **{"x-amz-sns-message-type": "SubscriptionConfirmation"})
    with pytest.raises(SignatureRejected, match="x-amz-sns-topic-arn header does not match"):
        await verified(sns, message, **{"x-amz-sns-topic-arn": OTHER_TOPIC})


async def test_a_confirmation_must_confirm_its_own_topic_on_an_sns_host(sns: FakeSns) -> None:
    foreign = "https://evil.example/?Action=ConfirmSubscription&TopicArn=" + TOPIC
    with pytest.raises(SignatureRejected, match="SubscribeURL is not on an Amazon SNS host"):
        await verified(sns, sns.sign(confirmation(subscribe_url=foreign)))
    other = (
        "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + OTHER_TOPIC
    )
    with pytest.raises(SignatureRejected, match="does not confirm a subscription to this topic"):
        await verified(sns, sns.sign(confirmation(subscribe_url=other)))


async def test_what_the_certificate_url_answers(sns: FakeSns) -> None:
    cases = {
        "missing.pem": (SignatureRejected, "SigningCertURL: the server answered HTTP 404"),
        "not-a-certificate.pem": (SignatureRejected, "does not hold a PEM certificate"),
        "broken.pem": (Unreachable, "SigningCertURL: the server answered HTTP 500"),
        "slow.pem": (Unreachable, "sns.us-east-1.amazonaws.com did not answer within 1 s"),
    }
    for name, (error, reason) in cases.items():
        message = sns.sign(delivery_message(), cert_url=sns.cert_url(name=name))
        with pytest.raises(error, match=reason):
            # (1 s: the slow one's limit; the others answer well within it, even on a busy machine
            # they would at worst be Unreachable, which the match would not take for them)
            await verified(sns, message, seconds=1 if name == "slow.pem" else 5)


async def test_a_certificate_is_fetched_once_per_url(sns: FakeSns) -> None:
    fetcher = HttpsFetcher(sns.outbound())
    try:
        for message_id in ("m-1", "m-2", "m-3"):
            message = sns.sign(delivery_message(MessageId=message_id))
            await verified(sns, message, fetcher=fetcher)
        assert sns.gets("/SimpleNotificationService-test.pem") == 1
        # A certificate that is not there is not remembered: asked again next time.
        for _ in range(2):
            message = sns.sign(delivery_message(), cert_url=sns.cert_url(name="missing.pem"))
            with pytest.raises(SignatureRejected):
                await verified(sns, message, fetcher=fetcher)
        assert sns.gets("/missing.pem") == 2
    finally:
        await fetcher.aclose()


async def test_verify_refuses_a_certificate_fetched_for_another_message(sns: FakeSns) -> None:
    """The fetched key is bound to its URL and the trusted topics: verify checks both again."""
    scheme = PROVIDER.signature
    assert scheme is not None
    keys = await verified(sns, sns.sign(delivery_message()))
    other_topic = signed_request(sns.sign(delivery_message(TopicArn=OTHER_TOPIC)))
    rotated = signed_request(
        sns.sign(delivery_message(), cert_url=sns.cert_url(name=ROTATED_CERT_NAME))
    )
    for request in (other_topic, rotated):
        with pytest.raises(SignatureRejected, match="signature does not match"):
            scheme.verify(request, keys, RECEIVER, datetime.now(UTC))


async def test_verify_alone_refuses_without_a_fetched_certificate(sns: FakeSns) -> None:
    scheme = PROVIDER.signature
    assert scheme is not None
    request = signed_request(sns.sign(delivery_message()))
    with pytest.raises(SignatureRejected, match="certificate was not fetched"):
        scheme.verify(request, [TOPIC], RECEIVER, datetime.now(UTC))


async def test_the_public_cas_do_not_trust_the_test_server(sns: FakeSns) -> None:
    """Without ``ca_bundle`` the stand-in's certificate is refused: the test CA is trusted
    only where a setting says so."""
    outbound = sns.outbound()
    fetcher = HttpsFetcher(type(outbound)(timeout_seconds=5, proxy=outbound.proxy))
    try:
        with pytest.raises(Unreachable, match="TLS certificate not trusted"):
            await verified(sns, sns.sign(delivery_message()), fetcher=fetcher)
    finally:
        await fetcher.aclose()
