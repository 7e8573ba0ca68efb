"""JSON as every GraphQL answer is written (HTTP bodies, WebSocket frames) and as the read
planner's statements are read back.

msgspec, which does either about ten (writing) and two (reading) times as fast as the
standard library on a page of messages; the standard library for what msgspec refuses
(a lone surrogate in a string; a number beyond a double's range). Text is written as
UTF-8, not ``\\u`` escapes: the same JSON value, fewer bytes.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

_encoder = msgspec.json.Encoder()


def encode(data: object) -> str:
    """Compact JSON text of ``data``."""
    try:
        return _encoder.encode(data).decode()
    except (UnicodeEncodeError, TypeError):
        return json.dumps(data, separators=(",", ":"))


def decode(text: str | bytes) -> Any:
    """The value of a JSON text."""
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return json.loads(text)
