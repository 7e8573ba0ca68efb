"""Esendex push notifications, from the seed's XML shapes with realistic values and variants."""

from __future__ import annotations

from datetime import UTC, datetime
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
from callbox.providers.esendex import ESENDEX_RECEIPT_STATUSES, PROVIDER, parse
from tests.providers.contract import parse_sample

RECEIVER = ReceiverContext(name="esendex-uk", default_region="GB")

PUSH_ID = "7a2f6c1e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
MESSAGE_ID = "2b0e7d6c-5f4a-4b3c-9d2e-1f0a9b8c7d6e"
ACCOUNT_ID = "0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b"
NAMESPACE = ' xmlns="http://api.esendex.com/ns/"'

# seeds/000 shapes (whitespace and layout kept), placeholders filled with realistic values.
INBOUND = f"""<InboundMessage>
 <Id>{PUSH_ID}</Id>
 <MessageId>{MESSAGE_ID}</MessageId>
 <AccountId>{ACCOUNT_ID}</AccountId>
 <MessageText>Yes, see you at 3pm</MessageText>
 <From>447700900123</From>
 <To>447700900456</To>
</InboundMessage>"""

DELIVERED = f"""<MessageDelivered>
 <Id>{PUSH_ID}</Id>
 <MessageId>{MESSAGE_ID}</MessageId>
 <AccountId>{ACCOUNT_ID}</AccountId>
 <OccurredAt>
  2024-03-01T10:15:30.1234567Z
 </OccurredAt>
</MessageDelivered>"""

FAILED = f"""<MessageFailed>
 <Id>{PUSH_ID}</Id>
 <MessageId>{MESSAGE_ID}</MessageId>
 <AccountId>{ACCOUNT_ID}</AccountId>
 <OccurredAt>
  2024-03-01T10:16:02
 </OccurredAt>
</MessageFailed>"""

OPT_OUT = f"""<?xml version="1.0" encoding="utf-8"?>
<OptOut>
  <Id>{PUSH_ID}</Id>
  <AccountId>{ACCOUNT_ID}</AccountId>
  <AccountReference>EX0123456</AccountReference>
  <ReceviedAt>2024-03-01T11:00:00.0000000Z</ReceviedAt>
  <From>
    <PhoneNumber>447700900123</PhoneNumber>
  </From>
  <Link>https://api.esendex.com/v1.0/optouts/{PUSH_ID}</Link>
</OptOut>"""


def at(
    year: int, month: int, day: int, hour: int, minute: int, second: int = 0, micro: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def xml_request(body: str | bytes, content_type: str = "application/xml") -> InboundRequest:
    raw = body.encode() if isinstance(body, str) else body
    return InboundRequest(method="POST", body=raw, content_type=content_type)


def parse_one(body: str | bytes, receiver: ReceiverContext = RECEIVER) -> Event:
    events = parse(xml_request(body), receiver)
    assert len(events) == 1
    return events[0]


def rejection(body: str | bytes) -> str:
    with pytest.raises(PayloadRejected) as caught:
        parse(xml_request(body), RECEIVER)
    return caught.value.reason


def with_namespace(document: str) -> str:
    root_end = document.index(">", document.index("<", document.find("?>") + 1))
    return document[:root_end] + NAMESPACE + document[root_end:]


def failed_with_reason(reason_xml: str, push_id: str = PUSH_ID) -> str:
    return f"""<MessageFailed>
 <Id>{push_id}</Id>
 <MessageId>{MESSAGE_ID}</MessageId>
 <AccountId>{ACCOUNT_ID}</AccountId>
 <OccurredAt>2024-03-01T10:16:02Z</OccurredAt>
 {reason_xml}
</MessageFailed>"""


# Inbound messages

EXPECTED_INBOUND = MessageReceived(
    dedupe_key=f"inbound:{PUSH_ID}",
    provider_message_id=MESSAGE_ID,
    channel=Channel.SMS,
    sender="+447700900123",
    recipient="+447700900456",
    body="Yes, see you at 3pm",
    occurred_at=None,
    metadata={"push_id": PUSH_ID, "account_id": ACCOUNT_ID},
)


def test_inbound_message() -> None:
    assert parse_one(INBOUND) == EXPECTED_INBOUND


def test_inbound_message_with_namespace_and_text_xml() -> None:
    request = xml_request(with_namespace(INBOUND), content_type="text/xml")
    assert parse(request, RECEIVER) == [EXPECTED_INBOUND]


def test_content_type_is_not_relied_on() -> None:
    assert parse(xml_request(INBOUND, content_type=""), RECEIVER) == [EXPECTED_INBOUND]


def test_inbound_message_national_sender_alphanumeric_and_no_to() -> None:
    document = f"""<?xml version="1.0" encoding="utf-8"?>
<InboundMessage>
 <Id>{PUSH_ID}</Id>
 <MessageId>{MESSAGE_ID}</MessageId>
 <MessageText>Caf\u00e9 &amp; cake?</MessageText>
 <From>07700 900123</From>
</InboundMessage>"""
    assert parse_one(document.encode()) == MessageReceived(
        dedupe_key=f"inbound:{PUSH_ID}",
        provider_message_id=MESSAGE_ID,
        channel=Channel.SMS,
        sender="+447700900123",
        recipient=None,
        body="Caf\u00e9 & cake?",
        occurred_at=None,
        metadata={"push_id": PUSH_ID},
    )


def test_inbound_message_without_region_keeps_international_numbers() -> None:
    event = parse_one(INBOUND, ReceiverContext(name="esendex"))
    assert isinstance(event, MessageReceived)
    assert (event.sender, event.recipient) == ("+447700900123", "+447700900456")


# Delivery and failure receipts


def test_message_delivered_with_seven_fraction_digits_on_its_own_line() -> None:
    assert parse_one(DELIVERED) == StatusReported(
        dedupe_key=f"receipt:{PUSH_ID}",
        provider_message_id=MESSAGE_ID,
        channel=Channel.SMS,
        status=Status.DELIVERED,
        provider_status="MessageDelivered",
        failure_reason=None,
        occurred_at=at(2024, 3, 1, 10, 15, 30, 123456),
        metadata={"push_id": PUSH_ID, "account_id": ACCOUNT_ID},
    )


@pytest.mark.parametrize(
    "occurred_at",
    [
        "2024-03-01T10:15:30",
        "2024-03-01T10:15:30Z",
        "2024-03-01T10:15:30.000Z",
        "\n\t2024-03-01T10:15:30\n",
    ],
)
def test_occurred_at_is_utc_with_or_without_zone(occurred_at: str) -> None:
    document = with_namespace(
        f"<MessageDelivered><Id>{PUSH_ID}</Id><MessageId>{MESSAGE_ID}</MessageId>"
        f"<OccurredAt>{occurred_at}</OccurredAt></MessageDelivered>"
    )
    assert parse_one(document) == StatusReported(
        dedupe_key=f"receipt:{PUSH_ID}",
        provider_message_id=MESSAGE_ID,
        channel=Channel.SMS,
        status=Status.DELIVERED,
        provider_status="MessageDelivered",
        failure_reason=None,
        occurred_at=at(2024, 3, 1, 10, 15, 30),
        metadata={"push_id": PUSH_ID},
    )


def test_receipt_without_occurred_at_has_no_time() -> None:
    event = parse_one(
        f"<MessageDelivered><Id>{PUSH_ID}</Id><MessageId>{MESSAGE_ID}</MessageId>"
        "</MessageDelivered>"
    )
    assert isinstance(event, StatusReported)
    assert event.occurred_at is None


def test_receiver_timezone_overrides_documented_utc_for_naive_times() -> None:
    receiver = ReceiverContext(name="esendex", timezone=ZoneInfo("Europe/London"))
    event = parse_one(FAILED.replace("2024-03-01", "2024-07-01"), receiver)
    assert isinstance(event, StatusReported)
    assert event.occurred_at == at(2024, 7, 1, 9, 16, 2)


def test_message_failed_without_reason_is_unknown_failure() -> None:
    assert parse_one(FAILED) == StatusReported(
        dedupe_key=f"receipt:{PUSH_ID}",
        provider_message_id=MESSAGE_ID,
        channel=Channel.SMS,
        status=Status.FAILED,
        provider_status="MessageFailed",
        failure_reason=FailureReason.UNKNOWN,
        occurred_at=at(2024, 3, 1, 10, 16, 2),
        metadata={"push_id": PUSH_ID, "account_id": ACCOUNT_ID},
    )


@pytest.mark.parametrize(
    ("permanent", "reason"),
    [
        ("true", FailureReason.PERMANENT),
        ("True", FailureReason.PERMANENT),
        ("false", FailureReason.TEMPORARY),
        ("maybe", FailureReason.UNKNOWN),
    ],
)
def test_message_failed_with_failure_reason(permanent: str, reason: FailureReason) -> None:
    document = failed_with_reason(
        "<FailureReason><Code>3</Code><Detail>Absent subscriber</Detail>"
        f"<PermanentFailure>{permanent}</PermanentFailure></FailureReason>"
    )
    assert parse_one(document) == StatusReported(
        dedupe_key=f"receipt:{PUSH_ID}",
        provider_message_id=MESSAGE_ID,
        channel=Channel.SMS,
        status=Status.FAILED,
        provider_status="MessageFailed",
        failure_reason=reason,
        occurred_at=at(2024, 3, 1, 10, 16, 2),
        metadata={
            "push_id": PUSH_ID,
            "account_id": ACCOUNT_ID,
            "failure_code": "3",
            "failure_detail": "Absent subscriber",
            "permanent_failure": permanent,
        },
    )


def test_failure_reason_with_description_and_no_permanence_flag() -> None:
    document = failed_with_reason(
        "<FailureReason><Code>12</Code><Description>Unknown subscriber</Description>"
        "</FailureReason>"
    )
    event = parse_one(with_namespace(document))
    assert isinstance(event, StatusReported)
    assert (event.failure_reason, event.metadata) == (
        FailureReason.UNKNOWN,
        {
            "push_id": PUSH_ID,
            "account_id": ACCOUNT_ID,
            "failure_code": "12",
            "failure_detail": "Unknown subscriber",
        },
    )


def test_every_receipt_root_is_mapped() -> None:
    assert ESENDEX_RECEIPT_STATUSES == {
        "MessageDelivered": Status.DELIVERED,
        "MessageFailed": Status.FAILED,
    }


# Opt-outs

EXPECTED_OPT_OUT = OptOutReported(
    dedupe_key=f"optout:{PUSH_ID}",
    address="+447700900123",
    channel=Channel.SMS,
    occurred_at=at(2024, 3, 1, 11, 0),
    source="provider",
)


def test_opt_out_with_misspelt_received_at() -> None:
    assert parse_one(OPT_OUT) == EXPECTED_OPT_OUT


def test_opt_out_with_correctly_spelt_received_at_and_namespace() -> None:
    document = with_namespace(OPT_OUT.replace("ReceviedAt", "ReceivedAt"))
    assert parse_one(document) == EXPECTED_OPT_OUT


def test_opt_out_with_bare_from_and_no_time() -> None:
    document = f"<OptOut><Id>{PUSH_ID}</Id><From>07700900123</From></OptOut>"
    assert parse_one(document) == OptOutReported(
        dedupe_key=f"optout:{PUSH_ID}",
        address="+447700900123",
        channel=Channel.SMS,
        occurred_at=None,
        source="provider",
    )


# Dedupe keys


def test_a_retried_push_has_the_same_key() -> None:
    assert parse_one(DELIVERED).dedupe_key == parse_one(DELIVERED).dedupe_key


def test_different_pushes_about_one_message_have_different_keys() -> None:
    failed = parse_one(FAILED.replace(PUSH_ID, "1d2c3b4a-5968-4776-8594-a3b2c1d0e9f8"))
    delivered = parse_one(DELIVERED)
    assert failed.dedupe_key != delivered.dedupe_key


def test_keys_of_different_kinds_do_not_collide() -> None:
    keys = {parse_one(document).dedupe_key for document in (INBOUND, DELIVERED, OPT_OUT)}
    assert len(keys) == 3


# Rejections

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<InboundMessage><Id>1</Id><MessageId>2</MessageId><From>447700900123</From>
<MessageText>&lol4;</MessageText></InboundMessage>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE InboundMessage [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<InboundMessage><Id>1</Id><MessageId>2</MessageId><From>447700900123</From>
<MessageText>&secret;</MessageText></InboundMessage>"""


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "empty body: expected XML"),
        (
            b'{"MessageId": "x"}',
            "expected an Esendex push XML document (InboundMessage, MessageDelivered, "
            "MessageFailed or OptOut), but the body does not start with '<'",
        ),
        (
            b"MessageId=x&Status=Delivered",
            "expected an Esendex push XML document (InboundMessage, MessageDelivered, "
            "MessageFailed or OptOut), but the body does not start with '<'",
        ),
        (
            f"<MessageDelivered><Id>{PUSH_ID}</Id></MessageFailed>".encode(),
            "malformed XML at line 1 column 65",
        ),
        (b"<html><body>Not found</body>", "malformed XML at line 1 column 28"),
        (BILLION_LAUGHS.encode(), "forbidden XML construct: DTDForbidden"),
        (EXTERNAL_ENTITY.encode(), "forbidden XML construct: DTDForbidden"),
    ],
    ids=["empty", "json", "form", "mismatched-tag", "truncated", "billion-laughs", "xxe"],
)
def test_undecodable_bodies_are_rejected(body: bytes, reason: str) -> None:
    assert rejection(body) == reason


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (
            f"<AccountId>{ACCOUNT_ID}</AccountId>",
            "unknown root element <AccountId>: expected InboundMessage, MessageDelivered, "
            "MessageFailed or OptOut",
        ),
        (
            f"<MessageRead><Id>{PUSH_ID}</Id></MessageRead>",
            "unknown root element <MessageRead>: expected InboundMessage, MessageDelivered, "
            "MessageFailed or OptOut",
        ),
        (
            "<html><body>Not found</body></html>",
            "unknown root element <html>: expected InboundMessage, MessageDelivered, "
            "MessageFailed or OptOut",
        ),
    ],
    ids=["account-id-root", "unknown-root", "html"],
)
def test_unknown_roots_are_rejected(document: str, reason: str) -> None:
    assert rejection(document) == reason


@pytest.mark.parametrize("root", ["InboundMessage", "MessageDelivered", "MessageFailed", "OptOut"])
def test_root_with_only_account_id_is_rejected(root: str) -> None:
    document = f"<{root}><AccountId>{ACCOUNT_ID}</AccountId></{root}>"
    assert rejection(document) == f"missing required element <Id> in <{root}>"


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (INBOUND.replace(f"<MessageId>{MESSAGE_ID}</MessageId>", ""), "MessageId"),
        (INBOUND.replace("<From>447700900123</From>", "<From> </From>"), "From"),
        (DELIVERED.replace(f"<MessageId>{MESSAGE_ID}</MessageId>", "<MessageId/>"), "MessageId"),
        (FAILED.replace(f"<Id>{PUSH_ID}</Id>", ""), "Id"),
    ],
    ids=["inbound-no-message-id", "inbound-blank-from", "delivered-empty-id", "failed-no-id"],
)
def test_missing_required_elements_are_rejected(document: str, reason: str) -> None:
    root = document.split(">", 1)[0].lstrip("<")
    assert rejection(document) == f"missing required element <{reason}> in <{root}>"


def test_opt_out_without_phone_number_is_rejected() -> None:
    document = f"<OptOut><Id>{PUSH_ID}</Id><From><PhoneNumber/></From></OptOut>"
    assert rejection(document) == "missing required element <From><PhoneNumber> in <OptOut>"


def test_bad_occurred_at_is_rejected() -> None:
    document = DELIVERED.replace("2024-03-01T10:15:30.1234567Z", "01/03/2024 10:15")
    assert rejection(document) == "OccurredAt: not a timestamp: '01/03/2024 10:15'"


# Defaults and samples (what every provider must do is in test_contract.py)


def test_defaults_read_national_numbers_as_british() -> None:
    assert (PROVIDER.default_region, PROVIDER.default_timezone) == ("GB", "UTC")


def test_samples_show_every_kind_one_event_each() -> None:
    events = [parse_sample(PROVIDER, sample) for sample in PROVIDER.samples]
    assert [len(batch) for batch in events] == [1, 1, 1, 1]
    assert [type(batch[0]) for batch in events] == [
        MessageReceived,
        StatusReported,
        StatusReported,
        OptOutReported,
    ]
