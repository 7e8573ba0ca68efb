"""url.net.au inbound SMS webhook: form-encoded, one message per request."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from callbox.model.vocabulary import Channel
from callbox.providers.base import (
    InboundRequest,
    MessageReceived,
    PayloadRejected,
    ReceiverContext,
)
from callbox.providers.urlnet import PROVIDER, parse
from tests.providers.contract import parse_sample

RECEIVER = ReceiverContext(
    name="urlnet-melbourne", default_region="AU", timezone=ZoneInfo("Australia/Melbourne")
)

# The seed's curl example (typographic quotes fixed, placeholder values kept as given).
SEED_EXAMPLE = (
    "service_id=YOUR_SERVICE_ID&from=YOUR_FROM_NUMBER&sms_number=YOUR_SMS_NUMBER"
    "&body=Test%20Message&message_id=297abf7f-99d9-4b7d-9c46-1d7c13687b11&timestamp=1576391654"
    "&webhook_url=https://youendpoint.com/sms/test&webhook_url_fallback=you@email.com"
)


def post_form(body: str, content_type: str = "application/x-www-form-urlencoded") -> InboundRequest:
    return InboundRequest(method="POST", body=body.encode(), content_type=content_type)


def inbound_sms(**fields: str) -> str:
    values = {
        "service_id": "80412",
        "from": "0491570156",
        "sms_number": "61491570110",
        "body": "Running%2010%20minutes%20late",
        "message_id": "5d0c8a43-3f0e-4b6a-9a53-0b1f6e2c7d19",
        "timestamp": "1710462734",
        "webhook_url": "https%3A%2F%2Fcallbox.example.com.au%2Fr%2Furlnet",
        "webhook_url_fallback": "sms-fallback%40example.com.au",
    }
    values.update(fields)
    return "&".join(f"{name}={value}" for name, value in values.items())


def reject_reason(request: InboundRequest) -> str:
    with pytest.raises(PayloadRejected) as caught:
        parse(request, RECEIVER)
    return caught.value.reason


def test_seed_curl_example() -> None:
    assert parse(post_form(SEED_EXAMPLE), RECEIVER) == [
        MessageReceived(
            dedupe_key="inbound:297abf7f-99d9-4b7d-9c46-1d7c13687b11",
            provider_message_id="297abf7f-99d9-4b7d-9c46-1d7c13687b11",
            channel=Channel.SMS,
            sender="YOUR_FROM_NUMBER",
            recipient="YOUR_SMS_NUMBER",
            body="Test Message",
            occurred_at=datetime(2019, 12, 15, 6, 34, 14, tzinfo=UTC),
            metadata={"service_id": "YOUR_SERVICE_ID"},
        )
    ]


def test_realistic_inbound_sms_with_national_and_international_numbers() -> None:
    assert parse(post_form(inbound_sms()), RECEIVER) == [
        MessageReceived(
            dedupe_key="inbound:5d0c8a43-3f0e-4b6a-9a53-0b1f6e2c7d19",
            provider_message_id="5d0c8a43-3f0e-4b6a-9a53-0b1f6e2c7d19",
            channel=Channel.SMS,
            sender="+61491570156",
            recipient="+61491570110",
            body="Running 10 minutes late",
            occurred_at=datetime(2024, 3, 15, 0, 32, 14, tzinfo=UTC),
            metadata={"service_id": "80412"},
        )
    ]


@pytest.mark.parametrize(
    "raw_number",
    ["0491570156", "61491570156", "%2B61491570156", "+61491570156", "0491%20570%20156"],
)
def test_every_australian_number_style_becomes_e164(raw_number: str) -> None:
    # An unencoded "+" decodes to a space in a form body; the number still comes out whole.
    [event] = parse(post_form(inbound_sms(**{"from": raw_number})), RECEIVER)

    assert isinstance(event, MessageReceived)
    assert event.sender == "+61491570156"


def test_alphanumeric_sender_is_kept_as_given() -> None:
    assert parse(post_form(inbound_sms(**{"from": "MyClinic", "body": "Reminder"})), RECEIVER) == [
        MessageReceived(
            dedupe_key="inbound:5d0c8a43-3f0e-4b6a-9a53-0b1f6e2c7d19",
            provider_message_id="5d0c8a43-3f0e-4b6a-9a53-0b1f6e2c7d19",
            channel=Channel.SMS,
            sender="MyClinic",
            recipient="+61491570110",
            body="Reminder",
            occurred_at=datetime(2024, 3, 15, 0, 32, 14, tzinfo=UTC),
            metadata={"service_id": "80412"},
        )
    ]


def test_minimal_message_without_optional_fields() -> None:
    body = (
        "from=%2B61491570156&message_id=0b8e7c51-2a0f-4bb4-9a3e-6f3f0c1d2e4a&timestamp=1710462734"
    )

    assert parse(post_form(body), RECEIVER) == [
        MessageReceived(
            dedupe_key="inbound:0b8e7c51-2a0f-4bb4-9a3e-6f3f0c1d2e4a",
            provider_message_id="0b8e7c51-2a0f-4bb4-9a3e-6f3f0c1d2e4a",
            channel=Channel.SMS,
            sender="+61491570156",
            recipient=None,
            body=None,
            occurred_at=datetime(2024, 3, 15, 0, 32, 14, tzinfo=UTC),
        )
    ]


def test_body_is_kept_as_sent_and_webhook_urls_stay_out_of_metadata() -> None:
    [event] = parse(
        post_form(inbound_sms(body="%20Yes%2C%20see%20you%20then%20%F0%9F%91%8D")), RECEIVER
    )

    assert isinstance(event, MessageReceived)
    assert event.body == " Yes, see you then \N{THUMBS UP SIGN}"
    assert event.metadata == {"service_id": "80412"}


def test_content_type_is_not_relied_on() -> None:
    [event] = parse(post_form(inbound_sms(), content_type=""), RECEIVER)

    assert event.dedupe_key == "inbound:5d0c8a43-3f0e-4b6a-9a53-0b1f6e2c7d19"


def test_dedupe_key_is_stable_across_retries_and_differs_per_message() -> None:
    [first] = parse(post_form(inbound_sms()), RECEIVER)
    [retry] = parse(post_form(inbound_sms(timestamp="1710462799")), RECEIVER)
    [other] = parse(
        post_form(inbound_sms(message_id="a3c1e2f4-5b6d-4e7f-8a9b-0c1d2e3f4a5b")), RECEIVER
    )

    assert first.dedupe_key == retry.dedupe_key
    assert first.dedupe_key != other.dedupe_key


@pytest.mark.parametrize(
    ("missing", "reason"),
    [
        ("message_id", "missing required field 'message_id'"),
        ("from", "missing required field 'from'"),
        ("timestamp", "missing required field 'timestamp'"),
    ],
)
def test_missing_required_field_is_rejected(missing: str, reason: str) -> None:
    assert reject_reason(post_form(inbound_sms(**{missing: ""}))) == reason


def test_absent_message_id_is_rejected() -> None:
    body = "from=0491570156&sms_number=61491570110&body=Hi&timestamp=1710462734"

    assert reject_reason(post_form(body)) == "missing required field 'message_id'"


@pytest.mark.parametrize(
    ("timestamp", "reason"),
    [
        ("2024-03-15T00:32:14Z", "timestamp: not a Unix timestamp: '2024-03-15T00:32:14Z'"),
        ("1e400", "timestamp: Unix timestamp out of range: '1e400'"),
    ],
)
def test_bad_timestamp_is_rejected(timestamp: str, reason: str) -> None:
    assert reject_reason(post_form(inbound_sms(timestamp=timestamp))) == reason


def test_json_body_is_rejected() -> None:
    request = InboundRequest(
        method="POST",
        body=b'{"from": "0491570156", "message_id": "5d0c8a43-3f0e-4b6a-9a53-0b1f6e2c7d19"}',
        content_type="application/json",
    )

    assert reject_reason(request) == (
        "expected a form-encoded body (application/x-www-form-urlencoded), got JSON"
    )


def test_empty_body_is_rejected() -> None:
    assert reject_reason(post_form("")) == "empty body: expected a form-encoded body"


# Defaults and sample (what every provider must do is in test_contract.py)


def test_defaults_are_australian() -> None:
    assert (PROVIDER.default_region, PROVIDER.default_timezone) == ("AU", "Australia/Melbourne")


def test_sample() -> None:
    [sample] = PROVIDER.samples

    assert parse_sample(PROVIDER, sample) == [
        MessageReceived(
            dedupe_key="inbound:297abf7f-99d9-4b7d-9c46-1d7c13687b11",
            provider_message_id="297abf7f-99d9-4b7d-9c46-1d7c13687b11",
            channel=Channel.SMS,
            sender="+61491570156",
            recipient="+61491570110",
            body="Running 10 minutes late, sorry",
            occurred_at=datetime(2024, 3, 15, 0, 32, 14, tzinfo=UTC),
            metadata={"service_id": "80412"},
        )
    ]
