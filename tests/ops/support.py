"""Payloads and settings shared by the operations tests."""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from prometheus_client.parser import text_string_to_metric_families

from callbox.settings import Auth, Receiver

NOTIFY_TOKEN = "ops-notify-token-0123456789"
NOTIFY_HEADERS = {"Authorization": f"Bearer {NOTIFY_TOKEN}", "Content-Type": "application/json"}
OUR_NUMBER = "+447700900999"

METRICS_TOKEN = "metrics-scrape-token-42"
"""Set as CALLBOX_TEST_METRICS_TOKEN by tests that scrape /metrics."""
SCRAPE = {"Authorization": f"Bearer {METRICS_TOKEN}"}
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    """A /metrics page as {(sample name, sorted labels): value}."""
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def notify_receiver(**extra: object) -> Receiver:
    return Receiver(
        name="notify",
        provider="notify",
        auth=Auth(bearer=[NOTIFY_TOKEN]),
        default_region="GB",
        our_address=OUR_NUMBER,
        **extra,  # type: ignore[arg-type]
    )


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def notify_receipt(
    at: datetime, *, to: str = "+447700900123", message_id: str | None = None
) -> bytes:
    """A delivery receipt for one of our messages sent at ``at``."""
    return json.dumps(
        {
            "id": message_id or str(uuid.uuid4()),
            "reference": None,
            "to": to,
            "status": "delivered",
            "notification_type": "sms",
            "created_at": _stamp(at),
            "completed_at": _stamp(at),
            "sent_at": _stamp(at),
        }
    ).encode()


def notify_inbound(at: datetime, *, sender: str = "07700900123", text: str = "Hello") -> bytes:
    """An inbound SMS received at ``at``."""
    return json.dumps(
        {
            "id": str(uuid.uuid4()),
            "source_number": sender,
            "destination_number": OUR_NUMBER,
            "message": text,
            "date_received": _stamp(at),
        }
    ).encode()
