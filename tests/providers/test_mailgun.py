"""Mailgun: every captured payload parsed, field by field; the signature scheme against its
documented construction (vectors computed with openssl, not with Callbox); odd formats."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

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
    InboundRequest,
    MessageReceived,
    NotApplied,
    OptOutReported,
    Parsed,
    PayloadRejected,
    ReceiverContext,
    SignatureRejected,
    SignedRequest,
    StatusReported,
)
from callbox.providers.mailgun import PROVIDER, sign, signature_fields, verify
from tests.providers.captured import CONFLICTS, FORM, JSON, mailgun, mailgun_signature

CONTEXT = ReceiverContext(name="mailgun")
KEY = "TEST_WEBHOOK_SIGNING_KEY"  # django-anymail's test key
KEYS = [KEY.encode()]
SIGNED_AT = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def parse(body: bytes, content_type: str, headers: dict[str, str] | None = None) -> list[Parsed]:
    request = InboundRequest("POST", body, content_type, headers or {})
    return list(PROVIDER.parse(request, CONTEXT))


def parse_captured(name: str) -> list[Parsed]:
    captured = mailgun(name, KEY, now=SIGNED_AT)
    return parse(captured.body, captured.content_type)


def rejection(body: bytes, content_type: str = JSON) -> str:
    with pytest.raises(PayloadRejected) as caught:
        parse(body, content_type)
    return caught.value.reason


# --- Every captured payload ---------------------------------------------------------------------


def test_json_delivered() -> None:
    assert parse_captured("anymail__test_delivered_event__raw_event") == [
        StatusReported(
            dedupe_key="status:hTWCTD81RtiDN-...",
            provider_message_id="20180812211713.1.DF5966851B4BAA99@example.org",
            channel=Channel.EMAIL,
            status=Status.DELIVERED,
            provider_status="delivered",
            failure_reason=None,
            occurred_at=utc("2018-08-12T21:17:17.153125"),
            recipient="recipient@example.com",
            sender="test@example.org",  # envelope.sender
            kind=ReportKind.STATUS,
            detail="OK",
            subject="Testing",
        )
    ]


def test_json_permanent_failure_is_a_hard_bounce_and_a_suppression() -> None:
    report, opt_out = parse_captured("anymail__test_failed_permanent_event__raw_event")
    identity = (
        "20180812214658.1.0DF563D0B3597700@example.org:failed:invalid@example.com:1534110422.389832"
    )
    assert report == StatusReported(
        dedupe_key=f"status:{identity}",
        provider_message_id="20180812214658.1.0DF563D0B3597700@example.org",
        channel=Channel.EMAIL,
        status=Status.FAILED,
        provider_status="failed",
        failure_reason=FailureReason.PERMANENT,
        occurred_at=utc("2018-08-12T21:47:02.389832"),
        recipient="invalid@example.com",
        sender=None,  # "Test Sender " names no address
        kind=ReportKind.STATUS,
        bounce_type=BounceType.HARD,
        detail="5.1.1 The email account that you tried to reach does not exist. Please try\n"
        "5.1.1 double-checking the recipient's email address for typos",
    )
    assert opt_out == OptOutReported(
        dedupe_key=f"optout:{identity}",
        address="invalid@example.com",
        channel=Channel.EMAIL,
        occurred_at=utc("2018-08-12T21:47:02.389832"),
        source=OptOutSource.SUPPRESSION,
        provider_message_id="20180812214658.1.0DF563D0B3597700@example.org",
        text=f"failed: {report.detail}",
    )


def test_json_temporary_failure_is_a_deferral() -> None:
    (report,) = parse_captured("anymail__test_failed_greylisted_event__raw_event")
    assert isinstance(report, StatusReported)
    assert (report.kind, report.status, report.failure_reason, report.bounce_type) == (
        ReportKind.DEFERRED,
        Status.SENT,
        None,
        BounceType.SOFT,
    )
    assert (report.provider_status, report.detail, report.subject) == (
        "failed",
        "Recipient address rejected: Greylisted",
        "Testing",
    )
    assert report.recipient == "undeliverable@mx.example.com"
    assert report.occurred_at == utc("2018-08-12T22:11:39.659519")


def test_json_rejected_takes_its_recipient_from_the_message_headers() -> None:
    (report,) = parse_captured("anymail__test_rejected_event__raw_event")
    assert report == StatusReported(
        dedupe_key="status:20180622220256.1.B31A451A2E5422BB@sandbox55887.mailgun.org:rejected:"
        "recipient@example.org:1529704976.104692",
        provider_message_id="20180622220256.1.B31A451A2E5422BB@sandbox55887.mailgun.org",
        channel=Channel.EMAIL,
        status=Status.FAILED,
        provider_status="rejected",
        failure_reason=FailureReason.BLOCKED,
        occurred_at=utc("2018-06-22T22:02:56.104692"),
        recipient="recipient@example.org",  # "Recipient Name <recipient@example.org>"
        sender="test@sandbox55887.mailgun.org",
        detail="Sandbox subdomains are for test purposes only.",
        subject="Test Subject",
    )


def test_json_opened_keeps_tags_and_user_variables() -> None:
    (report,) = parse_captured("anymail__test_opened_event__raw_event")
    assert report == StatusReported(
        dedupe_key="status:20180812213139.1.BC6694A917BB7E6A@example.org:opened:"
        "recipient@example.com:1534109600.089676",
        provider_message_id="20180812213139.1.BC6694A917BB7E6A@example.org",
        channel=Channel.EMAIL,
        status=Status.DELIVERED,
        provider_status="opened",
        failure_reason=None,
        occurred_at=utc("2018-08-12T21:33:20.089676"),
        recipient="recipient@example.com",
        kind=ReportKind.OPENED,
        metadata={
            "tags": ["welcome", "variation-A"],
            "user-variables": {"cohort": "2018-08-B", "user_id": "123456"},
        },
    )


@pytest.mark.parametrize(
    ("name", "kind", "source", "message_id", "event_id", "at"),
    [
        (
            "anymail__test_complained_event__raw_event",
            ReportKind.COMPLAINED,
            OptOutSource.COMPLAINT,
            "20130718032413.263EE2E0926@example.org",
            "ncV2XwymRUKbPek_MIM-Gw",
            "2013-08-22T23:31:00.049634",
        ),
        (
            "anymail__test_unsubscribed_event__raw_event",
            ReportKind.UNSUBSCRIBED,
            OptOutSource.UNSUBSCRIBE,
            "20130822232216.13966.79700@samples.mailgun.org",
            "W3X4JOhFT-OZidZGKKr9iA",
            "2013-08-22T23:23:11.421473",
        ),
    ],
)
def test_json_complaints_and_unsubscribes_are_history_and_opt_outs(
    name: str,
    kind: ReportKind,
    source: OptOutSource,
    message_id: str,
    event_id: str,
    at: str,
) -> None:
    report, opt_out = parse_captured(name)
    assert isinstance(report, StatusReported)
    assert (report.dedupe_key, report.provider_message_id, report.kind, report.status) == (
        f"status:{event_id}",
        message_id,
        kind,
        Status.DELIVERED,
    )
    assert report.recipient == "recipient@example.com"
    assert opt_out == OptOutReported(
        dedupe_key=f"optout:{event_id}",
        address="recipient@example.com",
        channel=Channel.EMAIL,
        occurred_at=utc(at),
        source=source,
        provider_message_id=message_id,
        text=report.provider_status,
    )


@pytest.mark.parametrize(
    ("name", "detail"),
    [
        ("anymail__test_alt_smtp_code__raw_event", "smtp;550 5.1.1 RESOLVER.ADR.RecipNotFound;"),
        ("anymail__test_invalid_mailbox__raw_event", "550 5.1.1 The email account"),
    ],
)
def test_legacy_hard_bounce_without_a_message_id_still_suppresses_the_address(
    name: str, detail: str
) -> None:
    opt_out, note = parse_captured(name)
    assert note == NotApplied(
        "'bounced' event without a Message-ID (message.headers.message-id, or Message-Id in a"
        " legacy form): its recipient's opt-out is recorded"
    )
    assert isinstance(opt_out, OptOutReported)
    assert (opt_out.address, opt_out.source, opt_out.opted_in, opt_out.provider_message_id) == (
        "noreply@example.com",
        OptOutSource.SUPPRESSION,
        False,
        None,
    )
    assert opt_out.text is not None and opt_out.text.startswith(f"bounced: {detail}")
    assert opt_out.occurred_at == SIGNED_AT  # the legacy form's (signed) timestamp
    assert re.fullmatch(r"optout::bounced:noreply@example\.com:[0-9a-f]{24}", opt_out.dedupe_key)
    # Signed again later (a retry): the same event, under the same key.
    again, _ = parse(mailgun(name, KEY, now=SIGNED_AT + timedelta(hours=1)).body, FORM)
    assert isinstance(again, OptOutReported)
    assert again.dedupe_key == opt_out.dedupe_key
    assert again.occurred_at == SIGNED_AT + timedelta(hours=1)


def test_inbound_route_post_is_an_inbound_email() -> None:
    """anymail rejects this one (its inbound URL is another): Callbox takes both on one URL."""
    (message,) = parse_captured("anymail__test_misconfigured_inbound__raw_event")
    assert isinstance(message, MessageReceived)
    assert (message.channel, message.sender, message.recipient, message.body) == (
        Channel.EMAIL,
        "envelope-from@example.org",
        "test@inbound.example.com",
        "Test body plain",
    )
    assert message.subject is None
    # No Message-Id header: an id that is the same on every retry.
    assert message.provider_message_id.startswith("sha256:")
    assert message.dedupe_key == f"inbound:{message.provider_message_id}"
    assert parse_captured("anymail__test_misconfigured_inbound__raw_event") == [message]
    assert message.occurred_at == SIGNED_AT


@pytest.mark.parametrize(
    ("name", "event"),
    [
        ("anymail__test_clicked_event__raw_event", "clicked"),
        ("anymail__test_delivery_status_is_none_event__raw_event", "accepted"),
        ("anymail__test_dropped_timed_out__raw_event", "dropped"),
        ("anymail__test_metadata_post_fields__raw_event", "clicked"),
        (CONFLICTS, "clicked"),
        ("anymail__test_tags__raw_event", "opened"),
        ("anymail__test_verifies_bad_signature__data", "delivered"),
        ("anymail__test_x_tags__raw_event", "delivered"),
    ],
)
def test_an_event_that_names_no_message_is_accepted_with_a_note(name: str, event: str) -> None:
    """anymail's trimmed fragments ("omitting some fields that aren't relevant to the test"):
    authentic and well-formed, but no Message-ID, so nothing to tie them to. Not an error
    (Mailgun would retry a 4xx for 8 hours, to no avail): a note of what is not applied."""
    assert parse_captured(name) == [
        NotApplied(
            f"{event!r} event without a Message-ID (message.headers.message-id, or Message-Id"
            " in a legacy form): nothing applied"
        )
    ]


def test_a_complaint_without_a_message_id_still_opts_its_recipient_out() -> None:
    body = json.dumps(
        {
            "signature": {"timestamp": "1", "token": "t", "signature": "s"},
            "event-data": {
                "event": "complained",
                "id": "cmp-1",
                "timestamp": 1534109600.5,
                "recipient": "Jane@Example.COM",
            },
        }
    ).encode()
    opt_out, note = parse(body, JSON)
    assert opt_out == OptOutReported(
        dedupe_key="optout:cmp-1",
        address="jane@example.com",
        channel=Channel.EMAIL,
        occurred_at=utc("2018-08-12T21:33:20.5"),
        source=OptOutSource.COMPLAINT,
        provider_message_id=None,
        text="complained",
    )
    assert note == NotApplied(
        "'complained' event without a Message-ID (message.headers.message-id, or Message-Id in"
        " a legacy form): its recipient's opt-out is recorded"
    )


# --- Legacy forms ---------------------------------------------------------------------------------


def legacy(**fields: str | list[str]) -> bytes:
    pairs = [
        (key, item)
        for key, value in fields.items()
        for item in (value if isinstance(value, list) else [value])
    ]
    return urlencode(pairs).encode()


def test_legacy_delivered_sample_reads_message_headers() -> None:
    (sample,) = [s for s in PROVIDER.samples if s.description.startswith("Delivered (legacy")]
    (report,) = parse(sample.body, sample.content_type)
    assert isinstance(report, StatusReported)
    prefix = (
        "status:20160421175529.19495.89030.B3AE3728@example.com:delivered:recipient@example.com:"
    )
    assert report.dedupe_key.startswith(prefix)
    assert report == StatusReported(
        dedupe_key=report.dedupe_key,
        provider_message_id="20160421175529.19495.89030.B3AE3728@example.com",
        channel=Channel.EMAIL,
        status=Status.DELIVERED,
        provider_status="delivered",
        failure_reason=None,
        occurred_at=utc("2016-04-21T17:55:30"),
        recipient="recipient@example.com",
        sender="from@example.com",
        subject="Webhook testing",
    )


def test_legacy_user_variables_never_take_mailgun_s_place() -> None:
    """The first value is Mailgun's for every field but the signature's, whose last value is
    Mailgun's; the other values are the message's user variables."""
    body = legacy(
        event=["clicked", "metadata-event"],
        recipient=["actual-recipient@example.com", "metadata-recipient"],
        token=["metadata-token", "actual-event-token"],
        timestamp=["metadata-timestamp", "1461261330"],
        signature=["metadata-signature", LEGACY_SIGNATURE],
        url="http://clicked.example.com/actual/event/param",
        tag=["actual-tag-1", "actual-tag-2"],
        **{"Message-Id": "<m-1@example.com>", "ordinary field": "ordinary metadata value"},
    )
    (report,) = parse(body, FORM)
    assert isinstance(report, StatusReported)
    assert (report.provider_status, report.kind, report.recipient) == (
        "clicked",
        ReportKind.CLICKED,
        "actual-recipient@example.com",
    )
    assert report.occurred_at == utc("2016-04-21T17:55:30")
    assert report.detail == "http://clicked.example.com/actual/event/param"
    assert report.metadata == {
        "tags": ["actual-tag-1", "actual-tag-2"],
        "user-variables": {
            "event": "metadata-event",
            "recipient": "metadata-recipient",
            "signature": "metadata-signature",
            "timestamp": "metadata-timestamp",
            "token": "metadata-token",
            "ordinary field": "ordinary metadata value",
        },
    }


def test_legacy_user_variables_come_from_the_message_headers_when_there() -> None:
    variables = {"custom1": "value1", "custom2": '{"key":"value"}'}
    headers = [["X-Mailgun-Variables", json.dumps(variables)]]
    body = legacy(
        event="delivered",
        recipient="a@example.com",
        timestamp="1461261330",
        custom1="value1",
        **{"message-headers": json.dumps(headers), "Message-Id": "<m-2@example.com>"},
    )
    (report,) = parse(body, FORM)
    assert isinstance(report, StatusReported)
    assert report.metadata == {
        "user-variables": {"custom1": "value1", "custom2": '{"key":"value"}'}
    }


def test_legacy_dropped_sample_is_a_suppressed_address() -> None:
    (sample,) = [s for s in PROVIDER.samples if s.description.startswith("Dropped")]
    (report,) = parse(sample.body, sample.content_type)
    assert isinstance(report, StatusReported)
    assert (report.status, report.failure_reason, report.bounce_type, report.provider_status) == (
        Status.FAILED,
        FailureReason.BLOCKED,
        BounceType.SUPPRESSED,
        "dropped",
    )
    assert report.detail == "Not delivering to previously bounced address"


def test_multipart_legacy_form_with_an_attachment() -> None:
    """Legacy failures post the original message as an attachment (multipart/form-data)."""
    boundary = "b0undary"
    parts = [
        ("event", "bounced"),
        ("recipient", "Gone@Example.com"),
        ("Message-Id", "<20160421180324.1@example.com>"),
        ("code", "550"),
        ("error", "550 5.1.1 no such user"),
        ("timestamp", "1461261330"),
        ("token", "t" * 50),
        ("signature", mailgun_signature(KEY, "1461261330", "t" * 50)),
    ]
    chunks = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in parts
    ]
    chunks.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="attachment-1";'
        ' filename="message.eml"\r\nContent-Type: message/rfc822\r\n\r\nSubject: hi\r\n\r\nx\r\n'
    )
    body = ("".join(chunks) + f"--{boundary}--\r\n").encode()
    content_type = f"multipart/form-data; boundary={boundary}"
    for headers in ({"content-type": content_type}, {}):  # boundary from the header, or sniffed
        report, opt_out = parse(body, "multipart/form-data", headers)
        assert isinstance(report, StatusReported) and isinstance(opt_out, OptOutReported)
        assert (report.provider_message_id, report.status, report.bounce_type) == (
            "20160421180324.1@example.com",
            Status.FAILED,
            BounceType.HARD,
        )
        assert (opt_out.address, opt_out.source) == ("gone@example.com", OptOutSource.SUPPRESSION)
        assert report.metadata == {}  # the attached message is no field (nor a user variable)
    signed = SignedRequest(
        "POST", "", {"content-type": content_type}, "", body, "multipart/form-data"
    )
    verify(signed, KEYS, CONTEXT, utc("2016-04-21T17:55:30"))


def test_inbound_sample_threads_to_the_message_it_answers() -> None:
    (sample,) = [s for s in PROVIDER.samples if s.description.startswith("Inbound")]
    (message,) = parse(sample.body, sample.content_type)
    assert message == MessageReceived(
        dedupe_key="inbound:CAF=reply-1@mail.example.net",
        provider_message_id="CAF=reply-1@mail.example.net",
        channel=Channel.EMAIL,
        sender="jane.doe@example.net",  # the From header, not the envelope's bounce address
        recipient="support@inbound.example.com",
        body="Thanks, that works for me.\n\n> Your order has shipped.\n",
        occurred_at=utc("2023-05-05T21:44:33"),
        in_reply_to="20180812211713.1.DF5966851B4BAA99@example.org",
        metadata={
            "stripped-text": "Thanks, that works for me.",
            "envelope-sender": "bounces+jane=example.net@mail.example.net",
        },
        subject="Re: Your order",
    )


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"[]", JSON, "expected a JSON object, got a JSON array"),
        (
            b'{"signature": {}}',
            JSON,
            "expected a Mailgun webhook: a JSON object with an event-data object"
            " (fields: signature)",
        ),
        (b'{"event-data": {"event": "opened", "message": []}}', JSON,
         "event-data.message: expected an object, got a JSON array"),
        (b'{"event-data": {"event": "opened", "timestamp": true}}', JSON,
         "event-data.timestamp: expected a Unix timestamp, got a JSON boolean"),
        (b'{"event-data": {"timestamp": 1}}', JSON, "missing required event-data field 'event'"),
        (legacy(event="delivered", **{"message-headers": "{}"}), FORM,
         "message-headers: expected a JSON list of [name, value], got a JSON object"),
        (legacy(token="x"), FORM,
         "expected a Mailgun webhook: JSON with event-data, form fields with an event, or an"
         " inbound message (sender, recipient, body-plain); got fields: token"),
        (legacy(**{"body-plain": "hi"}), FORM, "inbound e-mail without a sender (from, sender)"),
        (b"", FORM,
         "expected a Mailgun webhook: JSON with event-data, or form fields (event, ...)"),
        (b"--x\r\n\r\n", "multipart/form-data", "multipart/form-data body without fields"),
        (b"no boundary", "multipart/form-data", "multipart/form-data without a boundary"),
    ],
)  # fmt: skip
def test_rejections_name_the_problem(body: bytes, content_type: str, reason: str) -> None:
    assert rejection(body, content_type) == reason


def test_message_ids_lose_their_angle_brackets_and_addresses_their_case() -> None:
    document = {
        "event-data": {
            "event": "delivered",
            "id": "e-1",
            "recipient": "Jane.Doe@Example.COM",
            "message": {"headers": {"message-id": " <20180812.1@Example.org> "}},
        }
    }
    (report,) = parse(json.dumps(document).encode(), JSON)
    assert isinstance(report, StatusReported)
    assert (report.provider_message_id, report.recipient) == (
        "20180812.1@Example.org",  # an id, not an address: kept as given
        "jane.doe@example.com",
    )


def test_unknown_events_are_unknown_statuses() -> None:
    document = {"event-data": {"event": "Stored", "message": {"headers": {"message-id": "x@y"}}}}
    (report,) = parse(json.dumps(document).encode(), JSON)
    assert isinstance(report, StatusReported)
    assert (report.status, report.provider_status, report.kind) == (
        Status.UNKNOWN,
        "stored",
        ReportKind.STATUS,
    )


# --- The signature --------------------------------------------------------------------------------

# Mailgun's scheme by hand, with openssl:
#   printf %s "1534108637651869375b9df3c98fc15c4889b102119add1235c38fc92824" |
#     openssl dgst -sha256 -hmac TEST_WEBHOOK_SIGNING_KEY
VECTOR_TIMESTAMP = "1534108637"
VECTOR_TOKEN = "651869375b9df3c98fc15c4889b102119add1235c38fc92824"
VECTOR_SIGNATURE = "2a75affe24846ead9e37e614a5e7643a04abf4d5b49b34d224ede9af23a00ccc"
VECTOR_AT = datetime.fromtimestamp(int(VECTOR_TIMESTAMP), UTC)
# printf %s "1461261330actual-event-token" | openssl dgst -sha256 -hmac TEST_WEBHOOK_SIGNING_KEY
LEGACY_SIGNATURE = "85eb32bd2abe0c0c60635e8718d6722a918c02be9f3dde0574db44d304ffea7c"


def json_request(timestamp: str, token: str, signature: str) -> SignedRequest:
    body = {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": {"event": "delivered"},
    }
    return SignedRequest("POST", "", {}, "", json.dumps(body).encode(), JSON)


def form_request(body: bytes) -> SignedRequest:
    return SignedRequest("POST", "", {}, "", body, FORM)


def refused(request: SignedRequest, keys: list[bytes], now: datetime) -> str:
    with pytest.raises(SignatureRejected) as caught:
        verify(request, keys, CONTEXT, now)
    return caught.value.reason


def test_the_documented_vector_verifies() -> None:
    verify(json_request(VECTOR_TIMESTAMP, VECTOR_TOKEN, VECTOR_SIGNATURE), KEYS, CONTEXT, VECTOR_AT)
    # Hex is compared case-insensitively.
    upper = json_request(VECTOR_TIMESTAMP, VECTOR_TOKEN, VECTOR_SIGNATURE.upper())
    verify(upper, KEYS, CONTEXT, VECTOR_AT)


def test_a_tampered_token_or_timestamp_is_refused() -> None:
    tampered = VECTOR_TOKEN[:-1] + ("5" if VECTOR_TOKEN[-1] != "5" else "6")
    for request in (
        json_request(VECTOR_TIMESTAMP, tampered, VECTOR_SIGNATURE),
        json_request(str(int(VECTOR_TIMESTAMP) + 1), VECTOR_TOKEN, VECTOR_SIGNATURE),
        json_request(VECTOR_TIMESTAMP, VECTOR_TOKEN, VECTOR_SIGNATURE[:-1] + "d"),
    ):
        assert refused(request, KEYS, VECTOR_AT) == "signature does not match"


def test_a_wrong_key_is_refused_and_either_key_of_a_rotation_accepted() -> None:
    request = json_request(VECTOR_TIMESTAMP, VECTOR_TOKEN, VECTOR_SIGNATURE)
    assert refused(request, [b"another-key"], VECTOR_AT) == "signature does not match"
    verify(request, [b"new-key-first", KEY.encode()], CONTEXT, VECTOR_AT)
    verify(request, [KEY.encode(), b"new-key-second"], CONTEXT, VECTOR_AT)


def test_the_timestamp_must_be_within_300_seconds() -> None:
    request = json_request(VECTOR_TIMESTAMP, VECTOR_TOKEN, VECTOR_SIGNATURE)
    for skew in (timedelta(seconds=300), timedelta(seconds=-300)):
        verify(request, KEYS, CONTEXT, VECTOR_AT + skew)
    for skew in (timedelta(seconds=301), timedelta(seconds=-301), timedelta(days=3000)):
        assert refused(request, KEYS, VECTOR_AT + skew) == "timestamp outside the 300 s window"


def test_legacy_form_verifies_with_mailgun_s_values_not_the_colliding_variables() -> None:
    """User variables named timestamp, token and signature come first; Mailgun's last."""
    body = legacy(
        event="clicked",
        token=["metadata-token", "actual-event-token"],
        timestamp=["metadata-timestamp", "1461261330"],
        signature=["metadata-signature", LEGACY_SIGNATURE],
    )
    at = datetime.fromtimestamp(1461261330, UTC)
    verify(form_request(body), KEYS, CONTEXT, at)
    assert signature_fields(form_request(body)) == (
        "1461261330",
        "actual-event-token",
        LEGACY_SIGNATURE,
    )
    # Were the first values read, it could not verify.
    swapped = legacy(
        event="clicked",
        token=["actual-event-token", "metadata-token"],
        timestamp=["1461261330", "metadata-timestamp"],
        signature=[LEGACY_SIGNATURE, "metadata-signature"],
    )
    assert refused(form_request(swapped), KEYS, at) == "signature does not match"


def test_the_captured_conflicts_sample_verifies() -> None:
    captured = mailgun(CONFLICTS, KEY, now=SIGNED_AT)
    verify(form_request(captured.body), KEYS, CONTEXT, SIGNED_AT)


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (SignedRequest("POST", "", {}, "", b'{"event-data": {}}', JSON),
         "missing signature object in the JSON body"),
        (SignedRequest("POST", "", {}, "", b"{not json", JSON),
         "body is not JSON: no signature object to check"),
        (json_request(VECTOR_TIMESTAMP, "", VECTOR_SIGNATURE), "missing signature.token"),
        (form_request(legacy(event="opened", timestamp="1", token="t")),
         "missing signature field"),
        (form_request(b""), "missing timestamp field"),
        (json_request("soon", VECTOR_TOKEN, mailgun_signature(KEY, "soon", VECTOR_TOKEN)),
         "timestamp is not a unix timestamp"),
    ],
)  # fmt: skip
def test_unverifiable_requests_say_why(request_: SignedRequest, reason: str) -> None:
    assert refused(request_, KEYS, VECTOR_AT) == reason


def test_sign_makes_what_verify_accepts_and_replaces_mailgun_s_own_fields() -> None:
    for sample in PROVIDER.samples:
        unsigned = SignedRequest("POST", "", {}, "", sample.body, sample.content_type)
        signed = sign(unsigned, KEY, CONTEXT, SIGNED_AT)
        verify(signed, KEYS, CONTEXT, SIGNED_AT)
        assert refused(signed, [b"other"], SIGNED_AT) == "signature does not match"
        before = parse(sample.body, sample.content_type)
        after = parse(signed.body, sample.content_type)
        if sample.content_type == JSON:
            assert after == before
        else:  # a legacy form's timestamp is also its event's time; its identity is kept
            assert [e.dedupe_key for e in after] == [e.dedupe_key for e in before]
    colliding = form_request(
        legacy(event="opened", token=["variable", "old"], timestamp=["variable", "1"])
    )
    signed = sign(colliding, KEY, CONTEXT, SIGNED_AT)
    assert signed.form_params()[:4] == [
        ("event", "opened"),
        ("token", "variable"),
        ("token", signature_fields(signed)[1]),
        ("timestamp", "variable"),
    ]
