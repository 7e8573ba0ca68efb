"""Captured e-mail provider payloads (tests/providers/payloads/) as the requests the providers
send: Postmark's JSON as it is, Mailgun's JSON and legacy forms signed the way Mailgun signs
(written here from its documentation, independently of ``callbox.providers.mailgun``).

Mailgun's legacy samples are the form's fields as a JSON object (a list is a repeated field),
as django-anymail's tests post them; ``metadata_key_conflicts`` merges its user variables into
the event the way Mailgun does (Mailgun's value first, except the signature's fields, where
Mailgun's comes last).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

PAYLOADS = Path(__file__).resolve().parent / "payloads"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
SIGNATURE_FIELDS = ("timestamp", "token", "signature")
TOKEN = "1234567890abcdef1234567890abcdef"
"""anymail's token for samples that bring none."""


def mailgun_signature(key: str, timestamp: str, token: str) -> str:
    """Mailgun's documented scheme: hex HMAC-SHA256 of timestamp + token."""
    return hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


def read(provider: str, name: str) -> Any:
    return json.loads((PAYLOADS / provider / f"{name}.json").read_text())


def names(provider: str) -> list[str]:
    return sorted(path.stem for path in (PAYLOADS / provider).glob("*.json"))


@dataclass(frozen=True, slots=True)
class Captured:
    name: str
    body: bytes
    content_type: str


def postmark(name: str) -> Captured:
    return Captured(name, (PAYLOADS / "postmark" / f"{name}.json").read_bytes(), JSON)


CONFLICTS = "anymail__test_metadata_key_conflicts__raw_event2"
CONFLICTS_METADATA = "anymail__test_metadata_key_conflicts__metadata"
MAILGUN_SAMPLES = [name for name in names("mailgun") if name != CONFLICTS_METADATA]
"""Every Mailgun payload; the conflicts test's metadata file is part of its event."""


def mailgun(name: str, key: str, *, now: datetime | None = None) -> Captured:
    """The payload signed with ``key`` at ``now`` (a fresh timestamp: within the window)."""
    timestamp = str(int((now or datetime.now(UTC)).timestamp()))
    document = read("mailgun", name)
    if "event-data" in document:
        block = dict(document.get("signature") or {})
        block["timestamp"] = timestamp
        block.setdefault("token", TOKEN)
        block["signature"] = mailgun_signature(key, timestamp, block["token"])
        return Captured(name, json.dumps({**document, "signature": block}).encode(), JSON)
    fields: dict[str, Any] = dict(document)
    fields["timestamp"] = timestamp
    fields.setdefault("token", TOKEN)
    fields["signature"] = mailgun_signature(key, timestamp, fields["token"])
    if name == CONFLICTS:
        fields = _merged_user_variables(fields, read("mailgun", CONFLICTS_METADATA))
    return Captured(name, urlencode(_pairs(fields)).encode(), FORM)


def _merged_user_variables(event: dict[str, Any], variables: dict[str, str]) -> dict[str, Any]:
    merged = dict(event)
    for key, value in variables.items():
        if key not in merged:
            merged[key] = value
        elif key in SIGNATURE_FIELDS:
            merged[key] = [value, merged[key]]  # Mailgun's own value last
        else:
            merged[key] = [merged[key], value]  # Mailgun's own value first
    return merged


def _pairs(fields: dict[str, Any]) -> list[tuple[str, str]]:
    pairs = []
    for key, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((key, str(item)))
    return pairs
