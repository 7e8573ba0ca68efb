"""Octopush callbacks: receipts, replies and STOPs, current JSON and legacy form bodies."""

import json
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from callbox.model.vocabulary import Channel, FailureReason, ReportKind, Status
from callbox.providers.base import (
    InboundRequest,
    MessageReceived,
    OptOutReported,
    PayloadRejected,
    ReceiverContext,
    StatusReported,
)
from callbox.providers.octopush import PROVIDER, parse
from tests.providers.contract import parse_sample

RECEIVER = ReceiverContext(
    name="octopush-fr", default_region="FR", timezone=ZoneInfo("Europe/Paris")
)


def post_json(document: Any) -> InboundRequest:
    return InboundRequest(
        method="POST", body=json.dumps(document).encode(), content_type="application/json"
    )


def post_form(body: str) -> InboundRequest:
    return InboundRequest(
        method="POST", body=body.encode(), content_type="application/x-www-form-urlencoded"
    )


def receipt(status: str = "DELIVERED", **changes: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "channel": "sms",
        "message_id": "sms_5fa275dbf21dc",
        "number": "+33639981234",
        "status": status,
        "delivery_date": "2024-03-15 10:31:02",
    }
    document.update(changes)
    return document


def reject_reason(request: InboundRequest) -> str:
    with pytest.raises(PayloadRejected) as caught:
        parse(request, RECEIVER)
    return caught.value.reason


# Delivery receipts


def test_current_sms_receipt_from_the_documentation() -> None:
    # dev.octopush.com "Acknowledge receipt": the PHP example's values.
    request = post_json(
        {
            "message_id": "sms_5fa275dbf21dc",
            "number": "+33600000000",
            "status": "DELIVERED",
            "delivery_date": "2020-11-04 11:11:45",
        }
    )

    assert parse(request, RECEIVER) == [
        StatusReported(
            dedupe_key="receipt:sms_5fa275dbf21dc:+33600000000:DELIVERED",
            provider_message_id="sms_5fa275dbf21dc:+33600000000",
            channel=Channel.SMS,
            status=Status.DELIVERED,
            provider_status="DELIVERED",
            failure_reason=None,
            occurred_at=datetime(2020, 11, 4, 10, 11, 45, tzinfo=UTC),  # Paris is UTC+1
            recipient="+33600000000",
        )
    ]


def test_current_sms_receipt_keeps_list_price_and_channel_in_metadata() -> None:
    # octopush-api.readme.io "callbacks-statuses": SMS channel example.
    request = post_json(
        {
            "channel": "sms",
            "message_id": "sms_0000000000000000000000",
            "list_name": "List Name",
            "number": "+33600112233",
            "status": "DELIVERED",
            "unit_price": 0.5,
            "delivery_date": "2025-01-22 11:46:06",
            "meta_data": {},
        }
    )

    assert parse(request, RECEIVER) == [
        StatusReported(
            dedupe_key="receipt:sms_0000000000000000000000:+33600112233:DELIVERED",
            provider_message_id="sms_0000000000000000000000:+33600112233",
            channel=Channel.SMS,
            status=Status.DELIVERED,
            provider_status="DELIVERED",
            failure_reason=None,
            occurred_at=datetime(2025, 1, 22, 10, 46, 6, tzinfo=UTC),
            recipient="+33600112233",
            metadata={
                "channel": "sms",
                "list_name": "List Name",
                "unit_price": 0.5,
                "meta_data": {},
            },
        )
    ]


def test_voice_receipt_with_voice_details_in_meta_data() -> None:
    # octopush-api.readme.io "callbacks-statuses": Voice SMS channel example.
    request = post_json(
        {
            "channel": "voice_sms",
            "message_id": "voice_0000000000000000000000",
            "list_name": "List Name",
            "number": "+33600112233",
            "status": "BUSY",
            "unit_price": 0.5,
            "delivery_date": "2025-01-22 12:28:27",
            "meta_data": {"pressed_keys_code": "3545", "call_duration": 35, "charged_duration": 30},
        }
    )

    assert parse(request, RECEIVER) == [
        StatusReported(
            dedupe_key="receipt:voice_0000000000000000000000:+33600112233:BUSY",
            provider_message_id="voice_0000000000000000000000:+33600112233",
            channel=Channel.VOICE,
            status=Status.FAILED,
            provider_status="BUSY",
            failure_reason=FailureReason.TEMPORARY,
            occurred_at=datetime(2025, 1, 22, 11, 28, 27, tzinfo=UTC),
            recipient="+33600112233",
            metadata={
                "channel": "voice_sms",
                "list_name": "List Name",
                "unit_price": 0.5,
                "meta_data": {
                    "pressed_keys_code": "3545",
                    "call_duration": 35,
                    "charged_duration": 30,
                },
            },
        )
    ]


def test_voice_receipt_with_voice_details_at_the_top_level() -> None:
    # dev.octopush.com "Voice SMS acknowledge receipt": durations are top-level strings there.
    request = post_json(
        {
            "channel": "voice",
            "message_id": "sms_5fa275dbf21dc",
            "number": "+44600000000",
            "status": "DELIVERED",
            "delivery_date": "2020-11-04 11:11:45",
            "pressed_keys_code": "1",
            "call_duration": "12",
            "charged_duration": "30",
        }
    )

    assert parse(request, RECEIVER) == [
        StatusReported(
            dedupe_key="receipt:sms_5fa275dbf21dc:+44600000000:DELIVERED",
            provider_message_id="sms_5fa275dbf21dc:+44600000000",
            channel=Channel.VOICE,
            status=Status.DELIVERED,
            provider_status="DELIVERED",
            failure_reason=None,
            occurred_at=datetime(2020, 11, 4, 10, 11, 45, tzinfo=UTC),
            recipient="+44600000000",
            metadata={
                "channel": "voice",
                "pressed_keys_code": "1",
                "call_duration": "12",
                "charged_duration": "30",
            },
        )
    ]


def test_legacy_form_receipt_with_uppercase_delivery_date() -> None:
    request = post_form(
        "message_id=api110000000021&number=0033601010101&status=DELIVERED"
        "&DELIVERY_DATE=2013-05-15+14%3A20%3A08"
    )

    assert parse(request, RECEIVER) == [
        StatusReported(
            dedupe_key="receipt:api110000000021:+33601010101:DELIVERED",
            provider_message_id="api110000000021:+33601010101",
            channel=Channel.SMS,
            status=Status.DELIVERED,
            provider_status="DELIVERED",
            failure_reason=None,
            occurred_at=datetime(2013, 5, 15, 12, 20, 8, tzinfo=UTC),  # Paris is UTC+2 in May
            recipient="+33601010101",
        )
    ]


def test_legacy_form_receipt_with_a_legacy_status_and_lowercase_date() -> None:
    request = post_form(
        "message_id=api110000000022&number=0033601010102&status=INVALID_DESTINATION_ADDRESS"
        "&delivery_date=2013-12-02+09%3A00%3A00"
    )

    assert parse(request, RECEIVER) == [
        StatusReported(
            dedupe_key="receipt:api110000000022:+33601010102:INVALID_DESTINATION_ADDRESS",
            provider_message_id="api110000000022:+33601010102",
            channel=Channel.SMS,
            status=Status.FAILED,
            provider_status="INVALID_DESTINATION_ADDRESS",
            failure_reason=FailureReason.INVALID_RECIPIENT,
            occurred_at=datetime(2013, 12, 2, 8, 0, 0, tzinfo=UTC),
            recipient="+33601010102",
        )
    ]


def test_legacy_number_style_is_international_whatever_the_receiver_region() -> None:
    australian = ReceiverContext(name="octopush-au", default_region="AU")
    request = post_form(
        "message_id=api110000000021&number=0033601010101&status=ACK"
        "&DELIVERY_DATE=2013-05-15+14%3A20%3A08"
    )

    [event] = parse(request, australian)

    assert isinstance(event, StatusReported)
    assert event.recipient == "+33601010101"
    assert event.occurred_at == datetime(2013, 5, 15, 14, 20, 8, tzinfo=UTC)  # receiver in UTC


def test_current_receipt_with_a_national_number_uses_the_receiver_region() -> None:
    [event] = parse(post_json(receipt(number="06 39 98 12 34")), RECEIVER)

    assert isinstance(event, StatusReported)
    assert event.recipient == "+33639981234"
    assert event.provider_message_id == "sms_5fa275dbf21dc:+33639981234"


@pytest.mark.parametrize(
    ("provider_status", "status", "failure_reason"),
    [
        ("ACK", Status.SENT, None),
        ("DELIVERED", Status.DELIVERED, None),
        ("NOT_DELIVERED", Status.FAILED, FailureReason.UNKNOWN),
        ("NOT_ALLOWED", Status.FAILED, FailureReason.BLOCKED),
        ("UNKNOWN_DELIVERY", Status.UNKNOWN, None),
        ("BAD_DESTINATION", Status.FAILED, FailureReason.INVALID_RECIPIENT),
        ("BLACKLISTED_NUMBER", Status.FAILED, FailureReason.BLOCKED),
        ("UNDEFINED", Status.UNKNOWN, None),
        ("NOT_DELIVERABLE", Status.FAILED, FailureReason.PERMANENT),
        ("BUSY", Status.FAILED, FailureReason.TEMPORARY),
        ("REFUSED", Status.FAILED, FailureReason.TEMPORARY),
        ("INVALID_DESTINATION_ADDRESS", Status.FAILED, FailureReason.INVALID_RECIPIENT),
        ("OUT_OF_DATE", Status.FAILED, FailureReason.EXPIRED),
        ("EXPIRED", Status.FAILED, FailureReason.EXPIRED),
        ("READ", Status.DELIVERED, None),
        ("OPENED", Status.DELIVERED, None),
        ("CLICKED", Status.DELIVERED, None),
        ("TRANSMITTED", Status.SENT, None),
        ("ISP_SEND", Status.SENT, None),
        ("PROCESSED", Status.PENDING, None),
    ],
)
def test_every_delivery_status_is_mapped(
    provider_status: str, status: Status, failure_reason: FailureReason | None
) -> None:
    assert parse(post_json(receipt(provider_status)), RECEIVER) == [
        StatusReported(
            dedupe_key=f"receipt:sms_5fa275dbf21dc:+33639981234:{provider_status}",
            provider_message_id="sms_5fa275dbf21dc:+33639981234",
            channel=Channel.SMS,
            status=status,
            provider_status=provider_status,
            failure_reason=failure_reason,
            occurred_at=datetime(2024, 3, 15, 9, 31, 2, tzinfo=UTC),
            recipient="+33639981234",
            metadata={"channel": "sms"},
            kind=REPORTED_AS.get(provider_status, ReportKind.STATUS),
        )
    ]


REPORTED_AS = {"OPENED": ReportKind.OPENED, "CLICKED": ReportKind.CLICKED}
"""Opens and clicks are reports of their own kind, which change no status (docs/statuses.md,
"E-mail"); every other value is a status."""


def test_unknown_status_is_kept_and_mapped_to_unknown() -> None:
    assert parse(post_json(receipt("SPAM_PRESUMPTION")), RECEIVER) == [
        StatusReported(
            dedupe_key="receipt:sms_5fa275dbf21dc:+33639981234:SPAM_PRESUMPTION",
            provider_message_id="sms_5fa275dbf21dc:+33639981234",
            channel=Channel.SMS,
            status=Status.UNKNOWN,
            provider_status="SPAM_PRESUMPTION",
            failure_reason=None,
            occurred_at=datetime(2024, 3, 15, 9, 31, 2, tzinfo=UTC),
            recipient="+33639981234",
            metadata={"channel": "sms"},
        )
    ]


def test_status_is_matched_case_insensitively_and_kept_as_sent() -> None:
    [event] = parse(post_json(receipt("delivered")), RECEIVER)

    assert isinstance(event, StatusReported)
    assert (event.status, event.provider_status) == (Status.DELIVERED, "delivered")


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        ("sms", Channel.SMS),
        ("voice_sms", Channel.VOICE),
        ("VOICE", Channel.VOICE),
        ("rcs", Channel.SMS),
        ("whatsapp", Channel.SMS),
    ],
)
def test_channel_drives_the_normalised_channel(channel: str, expected: Channel) -> None:
    [event] = parse(post_json(receipt(channel=channel)), RECEIVER)

    assert isinstance(event, StatusReported)
    assert event.channel == expected
    assert event.metadata == {"channel": channel}


def test_absent_channel_is_sms() -> None:
    document = receipt()
    del document["channel"]

    [event] = parse(post_json(document), RECEIVER)

    assert isinstance(event, StatusReported)
    assert (event.channel, event.metadata) == (Channel.SMS, {})


def test_email_receipt_lists_one_receipt_per_recipient() -> None:
    # octopush-api.readme.io "callbacks-statuses": Email channel example.
    request = post_json(
        {
            "channel": "email",
            "message_id": "email_0000000000000000000000",
            "list_name": "List Name",
            "meta_data": {"template_name": "Template Name"},
            "deliveries": [
                {
                    "email": "Claire.Martin@example.fr",
                    "status": "OPENED",
                    "unit_price": 0.5,
                    "delivery_date": "2025-01-22 12:24:30",
                    "status_history": [
                        {"status": "DELIVERED", "delivery_date": "2025-01-22 12:23:30"}
                    ],
                },
                {
                    "email": "paul@example.fr",
                    "status": "SPAM_PRESUMPTION",
                    "unit_price": 0.5,
                    "delivery_date": "2025-01-22 12:19:30",
                    "status_history": [],
                },
            ],
        }
    )

    assert parse(request, RECEIVER) == [
        StatusReported(
            dedupe_key="receipt:email_0000000000000000000000:claire.martin@example.fr:OPENED",
            provider_message_id="email_0000000000000000000000:claire.martin@example.fr",
            channel=Channel.EMAIL,
            status=Status.DELIVERED,
            provider_status="OPENED",
            failure_reason=None,
            occurred_at=datetime(2025, 1, 22, 11, 24, 30, tzinfo=UTC),
            recipient="claire.martin@example.fr",
            metadata={
                "channel": "email",
                "list_name": "List Name",
                "meta_data": {"template_name": "Template Name"},
                "unit_price": 0.5,
                "status_history": [{"status": "DELIVERED", "delivery_date": "2025-01-22 12:23:30"}],
            },
            kind=ReportKind.OPENED,  # the open is recorded; it changes no status
        ),
        StatusReported(
            dedupe_key="receipt:email_0000000000000000000000:paul@example.fr:SPAM_PRESUMPTION",
            provider_message_id="email_0000000000000000000000:paul@example.fr",
            channel=Channel.EMAIL,
            status=Status.UNKNOWN,
            provider_status="SPAM_PRESUMPTION",
            failure_reason=None,
            occurred_at=datetime(2025, 1, 22, 11, 19, 30, tzinfo=UTC),
            recipient="paul@example.fr",
            metadata={
                "channel": "email",
                "list_name": "List Name",
                "meta_data": {"template_name": "Template Name"},
                "unit_price": 0.5,
                "status_history": [],
            },
        ),
    ]


def test_receipt_dedupe_key_is_stable_and_differs_per_status() -> None:
    [first] = parse(post_json(receipt("ACK")), RECEIVER)
    [again] = parse(post_json(receipt("ACK")), RECEIVER)
    [delivered] = parse(post_json(receipt("DELIVERED")), RECEIVER)
    [other_recipient] = parse(post_json(receipt("ACK", number="+33639985678")), RECEIVER)

    assert first.dedupe_key == again.dedupe_key
    assert len({first.dedupe_key, delivered.dedupe_key, other_recipient.dedupe_key}) == 3


# Replies (inbound SMS)


def test_current_reply_from_the_documentation() -> None:
    # dev.octopush.com "Webhook SMS Inbounds": the PHP example's values.
    request = post_json(
        {
            "message_id": "sms_5fa275dbf21dc",
            "number": "+44600000000",
            "text": "some reply",
            "sim_card_number": "12345",
            "reception_date": "2020-11-04 11:11:45",
        }
    )

    assert parse(request, RECEIVER) == [
        MessageReceived(
            dedupe_key="inbound:sms_5fa275dbf21dc:+44600000000:20201104111145:10f677874804",
            provider_message_id="sms_5fa275dbf21dc:+44600000000:20201104111145:10f677874804",
            channel=Channel.SMS,
            sender="+44600000000",
            recipient="12345",  # a short code stays as given
            body="some reply",
            occurred_at=datetime(2020, 11, 4, 10, 11, 45, tzinfo=UTC),
            in_reply_to="sms_5fa275dbf21dc:+44600000000",
        )
    ]


def test_legacy_form_reply_with_answer_date() -> None:
    request = post_form(
        "message_id=api110000000021&number=0033601010101&text=Oui+merci"
        "&sim_card_number=0033639980001&answer_date=2013-05-15+14%3A22%3A10"
    )

    assert parse(request, RECEIVER) == [
        MessageReceived(
            dedupe_key="inbound:api110000000021:+33601010101:20130515142210:f1505db9e4af",
            provider_message_id="api110000000021:+33601010101:20130515142210:f1505db9e4af",
            channel=Channel.SMS,
            sender="+33601010101",
            recipient="+33639980001",
            body="Oui merci",
            occurred_at=datetime(2013, 5, 15, 12, 22, 10, tzinfo=UTC),
            in_reply_to="api110000000021:+33601010101",
        )
    ]


def test_legacy_form_reply_with_uppercase_answer_date() -> None:
    request = post_form(
        "message_id=api110000000021&number=0033601010101&text=Oui+merci"
        "&ANSWER_DATE=2013-05-15+14%3A22%3A10"
    )

    [event] = parse(request, RECEIVER)

    assert isinstance(event, MessageReceived)
    assert event.dedupe_key == ("inbound:api110000000021:+33601010101:20130515142210:f1505db9e4af")
    assert event.recipient is None


def test_inbound_sms_to_a_virtual_number_without_a_ticket() -> None:
    request = post_json(
        {
            "number": "+33639981234",
            "text": "Bonjour",
            "sim_card_number": "+33639980001",
            "reception_date": "2024-03-15 10:42:17",
        }
    )

    assert parse(request, RECEIVER) == [
        MessageReceived(
            dedupe_key="inbound:+33639981234:20240315104217:9172e8eec99f",
            provider_message_id="+33639981234:20240315104217:9172e8eec99f",
            channel=Channel.SMS,
            sender="+33639981234",
            recipient="+33639980001",
            body="Bonjour",
            occurred_at=datetime(2024, 3, 15, 9, 42, 17, tzinfo=UTC),
            in_reply_to=None,
        )
    ]


def test_reply_keeps_its_text_as_sent_and_its_channel_in_metadata() -> None:
    request = post_json(
        {
            "channel": "sms",
            "message_id": "sms_5fa275dbf21dc",
            "number": "+33639981234",
            "text": "  Oui \n",
            "reception_date": "2024-03-15 10:42:17",
        }
    )

    [event] = parse(request, RECEIVER)

    assert isinstance(event, MessageReceived)
    assert (event.body, event.metadata) == ("  Oui \n", {"channel": "sms"})


def test_reply_id_is_the_same_for_a_json_retry_and_a_form_retry() -> None:
    json_request = post_json(
        {
            "message_id": "sms_5fa275dbf21dc",
            "number": "+33639981234",
            "text": "Oui",
            "reception_date": "2024-03-15 10:42:17",
        }
    )
    form_request = post_form(
        "message_id=sms_5fa275dbf21dc&number=0033639981234&text=Oui"
        "&reception_date=2024-03-15+10%3A42%3A17"
    )

    [first] = parse(json_request, RECEIVER)
    [again] = parse(json_request, RECEIVER)
    [as_form] = parse(form_request, RECEIVER)

    assert first.dedupe_key == again.dedupe_key == as_form.dedupe_key


def test_replies_differing_in_text_or_time_have_different_ids() -> None:
    def reply(text: str, reception_date: str) -> MessageReceived:
        [event] = parse(
            post_json(
                {
                    "message_id": "sms_5fa275dbf21dc",
                    "number": "+33639981234",
                    "text": text,
                    "reception_date": reception_date,
                }
            ),
            RECEIVER,
        )
        assert isinstance(event, MessageReceived)
        return event

    ids = {
        reply("Oui", "2024-03-15 10:42:17").provider_message_id,
        reply("Non", "2024-03-15 10:42:17").provider_message_id,
        reply("Oui", "2024-03-15 10:42:18").provider_message_id,
    }

    assert len(ids) == 3


# STOP opt-outs


def test_current_stop_callback() -> None:
    request = post_json(
        {
            "message_id": "sms_5fa275dbf21dc",
            "number": "+33639981234",
            "text": "STOP",
            "stop_date": "2024-03-15 10:45:00",
        }
    )

    assert parse(request, RECEIVER) == [
        OptOutReported(
            dedupe_key="optout:+33639981234:20240315104500",
            address="+33639981234",
            channel=Channel.SMS,
            occurred_at=datetime(2024, 3, 15, 9, 45, tzinfo=UTC),
            source="provider",
            provider_message_id="sms_5fa275dbf21dc:+33639981234",
            text="STOP",
        )
    ]


def test_legacy_form_stop_callback() -> None:
    request = post_form(
        "message_id=api110000000021&number=0033601010101&text=STOP+SMS"
        "&stop_date=2013-05-15+14%3A25%3A00"
    )

    assert parse(request, RECEIVER) == [
        OptOutReported(
            dedupe_key="optout:+33601010101:20130515142500",
            address="+33601010101",
            channel=Channel.SMS,
            occurred_at=datetime(2013, 5, 15, 12, 25, tzinfo=UTC),
            source="provider",
            provider_message_id="api110000000021:+33601010101",
            text="STOP SMS",
        )
    ]


def test_stop_callback_without_a_ticket() -> None:
    request = post_json({"number": "+33639981234", "stop_date": "2024-03-15 10:45:00"})

    assert parse(request, RECEIVER) == [
        OptOutReported(
            dedupe_key="optout:+33639981234:20240315104500",
            address="+33639981234",
            channel=Channel.SMS,
            occurred_at=datetime(2024, 3, 15, 9, 45, tzinfo=UTC),
            source="provider",
            provider_message_id=None,
            text=None,
        )
    ]


def test_empty_date_fields_do_not_decide_the_kind() -> None:
    # A form that carries every date field, only one of them filled.
    request = post_form(
        "message_id=api110000000021&number=0033601010101&text=Oui&status="
        "&delivery_date=&stop_date=&answer_date=2013-05-15+14%3A22%3A10"
    )

    [event] = parse(request, RECEIVER)

    assert isinstance(event, MessageReceived)


# Rejected payloads


def test_body_without_a_date_field_is_rejected_naming_the_expected_fields() -> None:
    request = post_json({"message_id": "sms_5fa275dbf21dc", "number": "+33639981234"})

    assert reject_reason(request) == (
        "not an Octopush callback: expected one of the fields "
        "'stop_date', 'reception_date', 'answer_date', 'delivery_date'"
    )


def test_form_without_a_date_field_is_rejected() -> None:
    assert reject_reason(post_form("message_id=api110000000021&status=DELIVERED")).startswith(
        "not an Octopush callback: expected one of the fields"
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"message_id": "sms_5fa275dbf21dc",', "invalid JSON: Expecting property name"),
        (b'[{"message_id": "sms_5fa275dbf21dc"}]', "expected a JSON object, got a JSON array"),
        (b"   ", "empty body: expected a JSON object or a form-encoded body"),
    ],
)
def test_malformed_bodies_are_rejected(body: bytes, reason: str) -> None:
    request = InboundRequest(method="POST", body=body, content_type="application/json")

    assert reject_reason(request).startswith(reason)


@pytest.mark.parametrize(
    ("missing", "reason"),
    [
        ("message_id", "missing required field 'message_id'"),
        ("number", "missing required field 'number'"),
        ("status", "missing required field 'status'"),
    ],
)
def test_receipt_without_a_required_field_is_rejected(missing: str, reason: str) -> None:
    document = receipt()
    del document[missing]

    assert reject_reason(post_json(document)) == reason


def test_receipt_with_an_empty_delivery_date_is_rejected() -> None:
    assert reject_reason(post_json(receipt(delivery_date=""))) == (
        "missing required field 'delivery_date'"
    )


def test_reply_without_a_number_is_rejected() -> None:
    request = post_json({"text": "Oui", "reception_date": "2024-03-15 10:42:17"})

    assert reject_reason(request) == "missing required field 'number'"


def test_unreadable_date_is_rejected_naming_the_field() -> None:
    request = post_json({"number": "+33639981234", "stop_date": "hier soir"})

    assert reject_reason(request) == "stop_date: not a timestamp: 'hier soir'"


def test_deliveries_that_are_not_a_list_of_objects_are_rejected() -> None:
    request = post_json(
        {"channel": "email", "message_id": "email_1", "deliveries": ["paul@example.fr"]}
    )

    assert reject_reason(request) == "'deliveries' must be a list of objects"


# Defaults and samples (what every provider must do is in test_contract.py)


def test_defaults_are_french() -> None:
    assert (PROVIDER.default_region, PROVIDER.default_timezone) == ("FR", "Europe/Paris")


def test_samples_show_every_kind() -> None:
    kinds = {type(event) for sample in PROVIDER.samples for event in parse_sample(PROVIDER, sample)}

    assert kinds == {StatusReported, MessageReceived, OptOutReported}
