"""url.net.au "Receive SMS via WebHook": inbound SMS to a PBX service's number.

url.net.au posts one form-encoded request per inbound SMS, with no delivery receipts and no
authentication, retrying until it gets a 200 (10 attempts, then e-mail). Fields: ``service_id``,
``from`` (a number or an alphanumeric name), ``sms_number`` (our number), ``body``,
``message_id`` (a UUID), ``timestamp`` (Unix epoch seconds), ``webhook_url`` and
``webhook_url_fallback``. Number formats are undocumented: ``04…``, ``614…`` and ``+614…`` all
become ``+614…``.

Identity: ``provider_message_id = message_id``; ``dedupe_key = "inbound:{message_id}"``.
``webhook_url`` and ``webhook_url_fallback`` (an e-mail address) echo our own configuration and
stay in the raw record only.
"""

from __future__ import annotations

from callbox.model.vocabulary import Channel
from callbox.providers.base import (
    Event,
    InboundRequest,
    MessageReceived,
    PayloadRejected,
    Provider,
    ReceiverContext,
    SamplePayload,
)
from callbox.providers.payloads import (
    address,
    decode_form,
    is_json,
    optional_str,
    parse_epoch,
    required_str,
)


def parse(request: InboundRequest, receiver: ReceiverContext) -> list[Event]:
    if not request.body.strip():
        raise PayloadRejected("empty body: expected a form-encoded body")
    if is_json(request):
        raise PayloadRejected(
            "expected a form-encoded body (application/x-www-form-urlencoded), got JSON"
        )
    fields = decode_form(request.body)
    message_id = required_str(fields, "message_id")
    our_number = optional_str(fields, "sms_number")
    service_id = optional_str(fields, "service_id")
    return [
        MessageReceived(
            dedupe_key=f"inbound:{message_id}",
            provider_message_id=message_id,
            channel=Channel.SMS,
            sender=address(required_str(fields, "from"), receiver.default_region, field="from"),
            recipient=(
                address(our_number, receiver.default_region, field="sms_number")
                if our_number
                else None
            ),
            body=fields.get("body"),
            occurred_at=parse_epoch(required_str(fields, "timestamp"), field="timestamp"),
            metadata={"service_id": service_id} if service_id is not None else {},
        )
    ]


PROVIDER = Provider(
    name="urlnet",
    parse=parse,
    samples=(
        SamplePayload(
            description="Inbound SMS",
            content_type="application/x-www-form-urlencoded",
            body=(
                b"service_id=80412&from=0491570156&sms_number=61491570110"
                b"&body=Running%2010%20minutes%20late%2C%20sorry"
                b"&message_id=297abf7f-99d9-4b7d-9c46-1d7c13687b11&timestamp=1710462734"
                b"&webhook_url=https%3A%2F%2Fcallbox.example.com.au%2Fr%2Furlnet"
                b"&webhook_url_fallback=sms-fallback%40example.com.au"
            ),
        ),
    ),
    default_timezone="Australia/Melbourne",
    default_region="AU",
)
