"""Values that used to escape as 500s or be stored wrongly (issue 16, items 4, 5 and 10).

Each is now a :class:`PayloadRejected` naming the field, or (for values already fixed before)
stays one: absurd addresses, timestamps outside what a datetime holds once converted, XML
encodings expat cannot read, deep nesting and huge integers, non-digit counts, and ids that
are not text or integers (NaN, infinity, objects).
"""

from __future__ import annotations

import json
import tracemalloc
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from callbox.model.addresses import (
    MAX_ADDRESS_LENGTH,
    MAX_PHONE_DIGITS,
    AddressRejected,
    normalise_address,
)
from callbox.providers import esendex, notify, octopush, urlnet, wiraya
from callbox.providers.base import (
    InboundRequest,
    MessageReceived,
    PayloadRejected,
    ReceiverContext,
    StatusReported,
)
from callbox.providers.payloads import optional_str, parse_timestamp

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
XML = "application/xml"

NOTIFY = ReceiverContext(name="notify", default_region="GB")
WIRAYA = ReceiverContext(name="wiraya", default_region="SE")
ESENDEX = ReceiverContext(name="esendex", default_region="GB")
URLNET = ReceiverContext(name="urlnet", default_region="AU")
PARIS = ZoneInfo("Europe/Paris")
OCTOPUSH = ReceiverContext(name="octopush", default_region="FR", timezone=PARIS)


def post(body: bytes, content_type: str = JSON) -> InboundRequest:
    return InboundRequest(method="POST", body=body, content_type=content_type)


def notify_receipt(**changes: object) -> bytes:
    fields: dict[str, object] = {
        "id": "740e5834-3a29-46b4-9a6f-16142fde533a",
        "to": "07700900123",
        "status": "delivered",
        "notification_type": "sms",
        "created_at": "2017-05-14T12:15:30.000000Z",
    }
    fields.update(changes)
    return json.dumps(fields).encode()


def wiraya_item(**changes: object) -> dict[str, object]:
    item: dict[str, object] = {
        "type": "outgoing sms",
        "id": "1000007",
        "recipient": "46710000123",
        "sender": "Wiraya",
        "status": "DELIVERED",
        "done_dateiso": "2024-03-15T10:30:04Z",
    }
    item.update(changes)
    return item


def rejection(parse: object, request: InboundRequest, receiver: ReceiverContext) -> str:
    assert callable(parse)
    with pytest.raises(PayloadRejected) as caught:
        parse(request, receiver)
    return caught.value.reason


# --- 4: addresses are bounded before they are normalised or cached ---------------------------


@pytest.mark.parametrize(
    "value",
    [
        "x" * (MAX_ADDRESS_LENGTH + 1),
        "a@" + "b" * MAX_ADDRESS_LENGTH,
        "+" + "4" * (MAX_PHONE_DIGITS + 1),
        "0" * 2048,
    ],
)
def test_an_absurd_address_is_refused(value: str) -> None:
    with pytest.raises(AddressRejected, match="too long"):
        normalise_address(value, "GB")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("n" * MAX_ADDRESS_LENGTH, "n" * MAX_ADDRESS_LENGTH),
        ("  ACME  ", "ACME"),
        ("Person@Example.COM", "person@example.com"),
        ("07700 900 123", "+447700900123"),
        ("0011 44 7700 900 123", "0011447700900123"),  # a dialling prefix GB does not use
        ("+" + "9" * MAX_PHONE_DIGITS, "+" + "9" * MAX_PHONE_DIGITS),
    ],
)
def test_sane_addresses_are_still_normalised(value: str, expected: str) -> None:
    assert normalise_address(value, "GB") == expected


def test_the_normalisation_cache_does_not_keep_what_callers_send() -> None:
    """Five Wiraya batches of 2 KB recipients once grew memory by 111 MB: nothing long is kept."""
    names = [f"{index:06d}" + "n" * 240 for index in range(5000)]
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        for name in names:
            normalise_address(name, "SE")
            normalise_address(name + "@example.com", "SE")  # 257 characters: refused
        after, _ = tracemalloc.get_traced_memory()
    except AddressRejected:
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert after - before < 200_000


def test_wiraya_rejects_a_2kb_recipient_naming_the_item_and_field() -> None:
    body = json.dumps(
        {"batch": [wiraya_item(), wiraya_item(id="1000008", recipient="4" * 2048)]}
    ).encode()
    reason = rejection(wiraya.parse, post(body), WIRAYA)
    assert reason == (
        "batch item 1: 'recipient': address of 2048 characters is too long (at most 254)"
    )


@pytest.mark.parametrize(
    ("parse", "request_", "receiver", "expected"),
    [
        (
            notify.parse,
            post(notify_receipt(to="x" * 300)),
            NOTIFY,
            "to: address of 300 characters is too long (at most 254)",
        ),
        (
            esendex.parse,
            post(
                b"<InboundMessage><Id>1</Id><MessageId>2</MessageId><From>"
                + b"4" * 30
                + b"</From></InboundMessage>",
                XML,
            ),
            ESENDEX,
            "<From>: phone number of 30 digits is too long (at most 20)",
        ),
        (
            octopush.parse,
            post(
                json.dumps(
                    {
                        "message_id": "sms_1",
                        "number": "+" + "3" * 25,
                        "status": "DELIVERED",
                        "delivery_date": "2024-03-15 10:31:02",
                    }
                ).encode()
            ),
            OCTOPUSH,
            "number: phone number of 25 digits is too long (at most 20)",
        ),
        (
            urlnet.parse,
            post(b"message_id=m&timestamp=1710462734&from=" + b"A" * 400, FORM),
            URLNET,
            "from: address of 400 characters is too long (at most 254)",
        ),
    ],
    ids=["notify", "esendex", "octopush", "urlnet"],
)
def test_providers_reject_absurd_addresses_naming_the_field(
    parse: object, request_: InboundRequest, receiver: ReceiverContext, expected: str
) -> None:
    assert rejection(parse, request_, receiver) == expected


# --- 5: 400, not 500 ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "zone"),
    [
        ("0001-01-01T00:00:00+01:00", UTC),
        ("9999-12-31T23:59:59-01:00", UTC),
        ("0001-01-01 00:00:00", PARIS),
        ("9999-12-31 23:59:59", ZoneInfo("America/New_York")),
    ],
)
def test_timestamps_that_overflow_when_converted_are_rejected(value: str, zone: ZoneInfo) -> None:
    with pytest.raises(PayloadRejected) as caught:
        parse_timestamp(value, naive_zone=zone, field="sent_at")
    assert caught.value.reason == f"sent_at: timestamp out of range: {value!r}"


def test_the_extremes_that_fit_are_kept() -> None:
    assert parse_timestamp("0001-01-01T00:00:00Z") == datetime(1, 1, 1, tzinfo=UTC)
    assert parse_timestamp("9999-12-31 23:59:59") == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_notify_rejects_an_overflowing_created_at() -> None:
    body = notify_receipt(created_at="0001-01-01T00:00:00+01:00")
    assert rejection(notify.parse, post(body), NOTIFY) == (
        "created_at: timestamp out of range: '0001-01-01T00:00:00+01:00'"
    )


def test_wiraya_rejects_an_overflowing_done_dateiso() -> None:
    body = json.dumps(wiraya_item(done_dateiso="9999-12-31T23:59:59-01:00")).encode()
    assert rejection(wiraya.parse, post(body), WIRAYA) == (
        "done_dateiso: timestamp out of range: '9999-12-31T23:59:59-01:00'"
    )


def test_octopush_rejects_a_naive_year_1_date_east_of_utc() -> None:
    body = json.dumps(
        {"message_id": "sms_1", "number": "+33639981234", "stop_date": "0001-01-01 00:00:00"}
    ).encode()
    assert rejection(octopush.parse, post(body), OCTOPUSH) == (
        "stop_date: timestamp out of range: '0001-01-01 00:00:00'"
    )


@pytest.mark.parametrize("encoding", ["x-nope", "utf-7", "UTF-32", "rot13", "idna"])
def test_esendex_rejects_an_xml_encoding_it_cannot_read(encoding: str) -> None:
    body = (
        f'<?xml version="1.0" encoding="{encoding}"?>'
        "<MessageDelivered><Id>1</Id><MessageId>2</MessageId></MessageDelivered>"
    ).encode()
    assert rejection(esendex.parse, post(body, XML), ESENDEX) == (
        "XML declares an encoding that cannot be read (use UTF-8)"
    )


def test_wiraya_rejects_an_xml_encoding_it_cannot_read() -> None:
    body = b'<?xml version="1.0" encoding="x-nope"?><event><id>1</id></event>'
    assert rejection(wiraya.parse, post(body, XML), WIRAYA) == (
        "XML declares an encoding that cannot be read (use UTF-8)"
    )


def test_an_xml_encoding_it_can_read_still_parses() -> None:
    body = (
        '<?xml version="1.0" encoding="iso-8859-1"?>'
        "<MessageDelivered><Id>1</Id><MessageId>2</MessageId></MessageDelivered>"
    ).encode("iso-8859-1")
    [event] = esendex.parse(post(body, XML), ESENDEX)
    assert isinstance(event, StatusReported) and event.provider_message_id == "2"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"[" * 100_000 + b"]" * 100_000, "expected a JSON object, got a JSON array"),
        (b'{"id":' * 100_000 + b"1" + b"}" * 100_000, "invalid JSON: nested too deeply"),
        (b'{"id": ' + b"9" * 4301 + b"}", "invalid JSON: a number has too many digits"),
    ],
    ids=["deep-array", "deep-object", "huge-integer"],
)
def test_deep_nesting_and_huge_integers_are_rejected(body: bytes, expected: str) -> None:
    reason = rejection(notify.parse, post(body), NOTIFY)
    assert reason == expected or reason.startswith("invalid JSON")


def test_wiraya_superscript_sms_parts_stays_text() -> None:
    body = json.dumps(wiraya_item(sms_parts="\u00b2")).encode()
    [event] = wiraya.parse(post(body), WIRAYA)
    assert isinstance(event, StatusReported)
    assert event.metadata["sms_parts"] == "\u00b2"


# --- 10: ids are text or integers -----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "described"),
    [
        ("NaN", "number (nan)"),
        ("1e999999", "number (inf)"),
        ("-Infinity", "number (-inf)"),
        ("1.5", "number (1.5)"),
        ('{"a": 1}', "object"),
        ("[1]", "array"),
        ("true", "boolean"),
    ],
)
def test_notify_rejects_an_id_that_is_not_text_or_an_integer(raw: str, described: str) -> None:
    body = notify_receipt(id="\x00id\x00")
    body = body.replace(b'"\\u0000id\\u0000"', raw.encode())
    assert rejection(notify.parse, post(body), NOTIFY) == (
        f"field 'id': expected text or an integer, got a JSON {described}"
    )


def test_notify_integer_ids_are_rendered_in_decimal() -> None:
    [event] = notify.parse(post(notify_receipt(id=1234567890123456789)), NOTIFY)
    assert event.provider_message_id == "1234567890123456789"


def test_notify_rejects_a_message_that_is_an_object() -> None:
    body = json.dumps(
        {
            "id": "i-1",
            "source_number": "+61412987654",
            "message": {"a": 1},
            "date_received": "2017-05-14T12:15:30Z",
        }
    ).encode()
    assert rejection(notify.parse, post(body), NOTIFY) == (
        "field 'message': expected text or an integer, got a JSON object"
    )


@pytest.mark.parametrize("field", ["message_id", "number", "text"])
def test_octopush_rejects_objects_where_text_belongs(field: str) -> None:
    fields: dict[str, object] = {
        "message_id": "sms_1",
        "number": "+33639981234",
        "text": "Oui",
        "reception_date": "2024-03-15 10:42:17",
    }
    fields[field] = {"a": 1}
    reason = rejection(octopush.parse, post(json.dumps(fields).encode()), OCTOPUSH)
    assert reason == f"field {field!r}: expected text or an integer, got a JSON object"


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "1e999999"])
def test_wiraya_rejects_a_non_finite_id(raw: str) -> None:
    body = json.dumps(wiraya_item(id="\x00id\x00")).encode()
    body = body.replace(b'"\\u0000id\\u0000"', raw.encode())
    reason = rejection(wiraya.parse, post(body), WIRAYA)
    assert reason.startswith("id: expected text or a number, got ")


def test_wiraya_numeric_ids_are_still_read() -> None:
    [event] = wiraya.parse(post(json.dumps(wiraya_item(id=1000007)).encode()), WIRAYA)
    assert isinstance(event, StatusReported) and event.provider_message_id == "1000007"


def test_optional_str_keeps_text_and_integers_only() -> None:
    fields = {"s": "  a  ", "i": 42, "empty": " ", "none": None, "b": False, "f": 1.0}
    assert [optional_str(fields, key) for key in ("s", "i", "empty", "none", "missing")] == [
        "a",
        "42",
        None,
        None,
        None,
    ]
    for key in ("b", "f"):
        with pytest.raises(PayloadRejected, match=f"field '{key}'"):
            optional_str(fields, key)


def test_urlnet_form_values_are_text() -> None:
    body = (
        b"message_id=297abf7f&from=0491570156&sms_number=61491570110&body=Hi&timestamp=1710462734"
    )
    [event] = urlnet.parse(post(body, FORM), URLNET)
    assert isinstance(event, MessageReceived) and event.provider_message_id == "297abf7f"
