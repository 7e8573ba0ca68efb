"""Wiraya push notifications: customer-templated GET, JSON or XML, single or batched.

The customer writes the callback template (see docs/wiraya.md for the recommended ones and
:mod:`callbox.providers.wiraya_mapping` for the field mapping). A request carries one event
(GET query string, a JSON object, an XML element) or a batch: ``{"batch": [...]}`` or a
``<batch>`` root whose children are the events, read in order. One bad item rejects the whole
request, naming the item's index (0-based) and the field.

``{TYPE}`` ("outgoing sms", "Incoming call", ...) says incoming or outgoing and SMS or call;
the receiver's ``direction``/``channel`` options fill in what it does not say.

- outgoing SMS or call -> :class:`StatusReported`; ``provider_message_id = {ID}``,
  ``dedupe_key = "outgoing:{sms|call}:{ID}:{STATUS}"``. ``OPTOUT`` adds an
  :class:`OptOutReported` for the recipient, ``dedupe_key = "optout:{sms|call}:{ID}"``.
- incoming SMS or call -> :class:`MessageReceived`; ``provider_message_id = {ID}``,
  ``dedupe_key = "incoming:{sms|call}:{ID}"``.

Wiraya's ``TEST`` status marks the event ``is_test``; it is kept like any other.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from callbox.model.addresses import AddressRejected, normalise_address
from callbox.model.vocabulary import Channel, FailureReason, Status
from callbox.providers.base import (
    Event,
    InboundRequest,
    MessageReceived,
    OptOutReported,
    PayloadRejected,
    Provider,
    ReceiverContext,
    SamplePayload,
    StatusReported,
)
from callbox.providers.payloads import (
    decode_json_object,
    decode_xml,
    json_kind,
    local_name,
    parse_epoch,
    parse_timestamp,
)
from callbox.providers.wiraya_mapping import (
    WirayaItem,
    WirayaOptions,
    WirayaTemplateReader,
)

# The seed lists SMS and call statuses; the values they share mean the same for both.
STATUSES: dict[str, tuple[Status, FailureReason | None]] = {
    "DELIVERED": (Status.DELIVERED, None),  # SMS: delivery report; call: answered
    "NOT_DELIVERED": (Status.FAILED, FailureReason.UNKNOWN),  # no cause given
    "NOT_WHITELISTED": (Status.FAILED, FailureReason.BLOCKED),  # not on the account's allow-list
    "OPTOUT": (Status.FAILED, FailureReason.BLOCKED),  # the recipient opted out; not sent
    "FAILURE": (Status.FAILED, FailureReason.TECHNICAL),
    "UNKNOWN": (Status.UNKNOWN, None),  # no delivery report came back
    "SPAM": (Status.FAILED, FailureReason.BLOCKED),  # stopped by Wiraya's spam filter
    "TEST": (Status.UNKNOWN, None),  # test mode: nothing reached a handset; event is_test
    # Calls only.
    "NEXTATTEMPT": (Status.PENDING, None),  # not reached yet; Wiraya will call again
    "NOTREACHED": (Status.FAILED, FailureReason.TEMPORARY),  # no answer after the last attempt
    "INCORRECTNUMBER": (Status.FAILED, FailureReason.INVALID_RECIPIENT),
}

# {RECIPIENT_STATUS}: EXISTS, DOESNOTEXIST, UNKNOWN, LANDLINENUMBER (kept in metadata).
RECIPIENT_DOES_NOT_EXIST = "DOESNOTEXIST"

CHANNELS = {"sms": Channel.SMS, "call": Channel.VOICE}

# Fields that become event attributes rather than metadata.
_EVENT_FIELDS = frozenset({"id", "recipient", "sender", "status"})
_SENT_FIELDS = ("sent_unixtime", "sent_dateiso", "sent_datetime")
_DONE_FIELDS = ("done_unixtime", "done_dateiso", "done_datetime")
_COUNT_FIELDS = ("sms_parts", "call_length")

_Item = TypeVar("_Item")


def parse(request: InboundRequest, receiver: ReceiverContext) -> list[Event]:
    options = receiver.options if isinstance(receiver.options, WirayaOptions) else WirayaOptions()
    reader = WirayaTemplateReader(options.mapping)
    builder = WirayaEventBuilder(receiver, options, reader)
    body = request.body.lstrip()
    if request.method.upper() == "GET" or (not body and request.query):
        return builder.events_for(reader.from_query(request.query))
    if body.startswith(b"<") or (not body and request.content_type.endswith("xml")):
        root = decode_xml(request.body)
        if local_name(root.tag).lower() == "batch":
            return read_batch(list(root), reader.from_xml, builder)
        return builder.events_for(reader.from_xml(root))
    if body.startswith((b"{", b"[")) or request.content_type.endswith("json"):
        document = decode_json_object(request.body)
        if "batch" in document:
            items = document["batch"]
            if not isinstance(items, list):
                raise PayloadRejected(
                    f"batch: expected a JSON array, got a JSON {json_kind(items)}"
                )
            return read_batch(items, reader.from_json, builder)
        return builder.events_for(reader.from_json(document))
    if not body:
        raise PayloadRejected("empty body: expected JSON or XML, or a GET with a query string")
    raise PayloadRejected(
        f"expected a JSON or XML body, got content type {request.content_type or 'none'!r}"
    )


def read_batch(
    items: Sequence[_Item],
    read_item: Callable[[_Item], WirayaItem],
    builder: WirayaEventBuilder,
) -> list[Event]:
    """Every item's events, in order; the first bad item rejects the whole request."""
    if not items:
        raise PayloadRejected("batch is empty")
    events: list[Event] = []
    for index, item in enumerate(items):
        try:
            events.extend(builder.events_for(read_item(item)))
        except PayloadRejected as error:
            raise PayloadRejected(f"batch item {index}: {error.reason}") from None
    return events


def map_status(value: str) -> tuple[Status, FailureReason | None]:
    return STATUSES.get(value.upper(), (Status.UNKNOWN, None))


def read_event_kind(type_value: str | None, options: WirayaOptions) -> tuple[str, str]:
    """``("outgoing", "sms")`` from ``{TYPE}``, completed by the receiver's options."""
    folded = (type_value or "").lower()
    direction = _the_one_named(folded, ("incoming", "outgoing")) or options.direction
    channel = _the_one_named(folded, ("sms", "call")) or options.channel
    said = f"type {type_value!r}" if type_value else "no 'type' field"
    if direction is None:
        raise PayloadRejected(
            f"cannot tell incoming from outgoing: {said}, and the receiver sets no direction"
        )
    if channel is None:
        raise PayloadRejected(
            f"cannot tell SMS from call: {said}, and the receiver sets no channel"
        )
    return direction, channel


def _the_one_named(text: str, words: tuple[str, ...]) -> str | None:
    named = [word for word in words if word in text]
    return named[0] if len(named) == 1 else None


class WirayaEventBuilder:
    """Turns one templated event's values into Callbox events."""

    def __init__(
        self, receiver: ReceiverContext, options: WirayaOptions, reader: WirayaTemplateReader
    ) -> None:
        self._receiver = receiver
        self._options = options
        self._reader = reader
        # Batches repeat our own number on every item; phone parsing dominates the cost.
        self._addresses: dict[str, str] = {}

    def events_for(self, item: WirayaItem) -> list[Event]:
        direction, channel_name = read_event_kind(item.fields.get("type"), self._options)
        if direction == "incoming":
            return [self._message_received(item, channel_name)]
        return self._status_reported(item, channel_name)

    def _message_received(self, item: WirayaItem, channel_name: str) -> MessageReceived:
        fields = item.fields
        message_id = self._required(fields, "id")
        sender = self._address(self._required(fields, "sender"), "sender")
        raw_status = fields.get("status")
        # {BULK} is the whole incoming text; {CONTENT} may lack the keyword prefix.
        body_field = "bulk" if "bulk" in fields else "content"
        return MessageReceived(
            dedupe_key=f"incoming:{channel_name}:{message_id}",
            provider_message_id=message_id,
            channel=CHANNELS[channel_name],
            sender=sender,
            recipient=self._optional_address(fields, "recipient"),
            body=fields.get(body_field),
            occurred_at=self._moment(fields, _SENT_FIELDS),
            provider_status=raw_status or "RECEIVED",
            metadata=self._metadata(item, skip=(*_SENT_FIELDS, body_field)),
            is_test=raw_status is not None and raw_status.upper() == "TEST",
        )

    def _status_reported(self, item: WirayaItem, channel_name: str) -> list[Event]:
        fields = item.fields
        message_id = self._required(fields, "id")
        raw_status = self._required(fields, "status")
        provider_status = raw_status.upper()
        status, failure_reason = map_status(provider_status)
        if (
            failure_reason is FailureReason.UNKNOWN
            and fields.get("recipient_status", "").upper() == RECIPIENT_DOES_NOT_EXIST
        ):
            failure_reason = FailureReason.INVALID_RECIPIENT
        recipient = self._optional_address(fields, "recipient")
        sent_at = self._moment(fields, _SENT_FIELDS)
        occurred_at = self._moment(fields, _DONE_FIELDS) or sent_at
        channel = CHANNELS[channel_name]
        events: list[Event] = [
            StatusReported(
                dedupe_key=f"outgoing:{channel_name}:{message_id}:{provider_status}",
                provider_message_id=message_id,
                channel=channel,
                status=status,
                provider_status=raw_status,
                failure_reason=failure_reason,
                occurred_at=occurred_at,
                recipient=recipient,
                sender=self._optional_address(fields, "sender"),
                body=fields.get("content"),
                sent_at=sent_at,
                metadata=self._metadata(item, skip=(*_SENT_FIELDS, *_DONE_FIELDS, "content")),
                is_test=provider_status == "TEST",
            )
        ]
        # Without {RECIPIENT} in the template there is no address to record the opt-out for.
        if provider_status == "OPTOUT" and recipient is not None:
            events.append(
                OptOutReported(
                    dedupe_key=f"optout:{channel_name}:{message_id}",
                    address=recipient,
                    channel=channel,
                    occurred_at=occurred_at,
                    source="status",
                    provider_message_id=message_id,
                )
            )
        return events

    def _required(self, fields: dict[str, str], name: str) -> str:
        value = fields.get(name)
        if value is None:
            raise PayloadRejected(f"missing required field {self._reader.source_of(name)}")
        return value

    def _optional_address(self, fields: dict[str, str], name: str) -> str | None:
        raw = fields.get(name)
        return None if raw is None else self._address(raw, name)

    def _address(self, raw: str, name: str) -> str:
        address = self._addresses.get(raw)
        if address is None:
            try:
                address = normalise_address(raw, self._receiver.default_region)
            except AddressRejected as error:
                raise PayloadRejected(f"{self._reader.source_of(name)}: {error}") from None
            self._addresses[raw] = address
        return address

    def _moment(self, fields: dict[str, str], names: tuple[str, str, str]) -> datetime | None:
        """The first of a ``*_UNIXTIME``, ``*_DATEISO``, ``*_DATETIME`` trio the template has."""
        unix_name, iso_name, datetime_name = names
        if (unix := fields.get(unix_name)) is not None and unix != "0":
            return parse_epoch(unix, field=unix_name)
        for name in (iso_name, datetime_name):
            text = fields.get(name)
            # A zero date ("0000-00-00 00:00:00") means "not yet", e.g. a call not ended.
            if text is not None and not text.startswith("0000-00-00"):
                # Documented as UTC; the receiver's timezone (UTC by default) can correct it.
                return parse_timestamp(text, naive_zone=self._receiver.timezone, field=name)
        return None

    def _metadata(self, item: WirayaItem, skip: tuple[str, ...]) -> dict[str, Any]:
        metadata: dict[str, Any] = {
            name: value
            for name, value in item.fields.items()
            if name not in _EVENT_FIELDS and name not in skip
        }
        for name in _COUNT_FIELDS:
            value = metadata.get(name)
            # ASCII digits only ("²".isdigit() is true) and no more than int() converts.
            if value is not None and value.isascii() and value.isdigit() and len(value) <= 18:
                metadata[name] = int(value)
        if item.contact:
            metadata["contact"] = item.contact
        return metadata


def _json_sample(**fields: str) -> bytes:
    return json.dumps(fields, separators=(",", ":")).encode()


PROVIDER = Provider(
    name="wiraya",
    parse=parse,
    methods=frozenset({"GET", "POST"}),
    samples=(
        SamplePayload(
            description="Incoming SMS (recommended GET template)",
            method="GET",
            content_type="",
            body=b"",
            query=(
                "type=incoming+sms&id=2000451&cid=1042&sender=46701234567&recipient=46769440100"
                "&content=YES&bulk=OPT+YES&prefix=OPT&identifier=OPT"
                "&sent_dateiso=2024-03-15T10%3A42%3A17Z"
            ),
        ),
        SamplePayload(
            description="Outgoing SMS delivered (recommended JSON template)",
            content_type="application/json",
            body=_json_sample(
                type="outgoing sms",
                id="1000007",
                cid="1042",
                rid="58812",
                prid="311",
                recipient="46710000123",
                sender="Wiraya",
                status="DELIVERED",
                content="Your appointment is tomorrow at 10:00. Reply YES to confirm.",
                sms_parts="1",
                recipient_status="EXISTS",
                campaign_name="Appointments March",
                sent_dateiso="2024-03-15T10:30:00Z",
                done_dateiso="2024-03-15T10:30:04Z",
                **{"1": "Anna Svensson", "2": "A-2291"},
            ),
        ),
        SamplePayload(
            description="Batch of outgoing SMS: not delivered, opt-out, test (JSON)",
            content_type="application/json",
            body=b'{"batch":['
            + b",".join(
                _json_sample(
                    type="outgoing sms",
                    id=message_id,
                    recipient=recipient,
                    sender="Wiraya",
                    status=status,
                    recipient_status=recipient_status,
                    sent_dateiso="2024-03-15T10:30:00Z",
                    done_dateiso=f"2024-03-15T{done}Z",
                )
                for message_id, recipient, status, recipient_status, done in (
                    ("1000088", "46710000456", "NOT_DELIVERED", "DOESNOTEXIST", "10:31:12"),
                    ("1000105", "46710000789", "OPTOUT", "EXISTS", "10:30:01"),
                    ("1000106", "46710000790", "TEST", "UNKNOWN", "10:30:01"),
                )
            )
            + b"]}",
        ),
        SamplePayload(
            description="Outgoing call answered, with key choices (recommended XML template)",
            content_type="application/xml",
            body=(
                b"<event><type>outgoing call</type><id>3000019</id><cid>1042</cid>"
                b"<recipient>46710000123</recipient><sender>46769440100</sender>"
                b"<status>DELIVERED</status><key_choices>1,3</key_choices>"
                b"<call_length>74</call_length><campaign_name>Reminders</campaign_name>"
                b"<sent_dateiso>2024-03-15T11:00:00Z</sent_dateiso>"
                b"<done_dateiso>2024-03-15T11:01:14Z</done_dateiso>"
                b"<field1>Anna Svensson</field1></event>"
            ),
        ),
        SamplePayload(
            description="Batch: outgoing call not reached and an incoming call (XML)",
            content_type="application/xml",
            body=(
                b"<batch>"
                b"<event><type>outgoing call</type><id>3000020</id>"
                b"<recipient>46710000456</recipient><sender>46769440100</sender>"
                b"<status>NOTREACHED</status><sent_dateiso>2024-03-15T11:00:00Z</sent_dateiso>"
                b"<done_dateiso>2024-03-15T11:00:45Z</done_dateiso></event>"
                b"<event><type>incoming call</type><id>4000007</id>"
                b"<sender>46710000456</sender><recipient>46769440100</recipient>"
                b"<call_length>31</call_length><sent_dateiso>2024-03-15T11:05:10Z</sent_dateiso>"
                b"</event>"
                b"</batch>"
            ),
        ),
    ),
    options_type=WirayaOptions,
    default_timezone="UTC",
    default_region="SE",
)
