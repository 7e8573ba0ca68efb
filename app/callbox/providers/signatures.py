"""What signature schemes share: reading the signature's headers, comparing in constant time
against every key, replay windows. Each provider's scheme lives in its own module."""

from __future__ import annotations

import hmac
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from callbox.providers.base import (
    Fetched,
    SignatureKey,
    SignatureRejected,
    SignedRequest,
    Unreachable,
)

REPLAY_WINDOW_SECONDS = 300
"""How far a signed timestamp may be from now, either way, where the scheme signs one."""

MISMATCH = "signature does not match"


def required_header(request: SignedRequest, name: str) -> str:
    """The header's value; :class:`SignatureRejected` naming it when absent or empty."""
    value = request.headers.get(name.lower(), "").strip()
    if not value:
        raise SignatureRejected(f"missing {name} header")
    return value


def matches_any(
    keys: Sequence[SignatureKey],
    expected: Callable[[SignatureKey], bytes | str],
    presented: bytes | str,
) -> bool:
    """True when ``presented`` equals what any key expects. Every key is tried (no early
    exit) and each comparison takes constant time."""
    given = presented.encode() if isinstance(presented, str) else presented
    matched = False
    for key in keys:
        wanted = expected(key)
        matched |= hmac.compare_digest(
            wanted.encode() if isinstance(wanted, str) else wanted, given
        )
    return matched


def require_match(
    keys: Sequence[SignatureKey],
    expected: Callable[[SignatureKey], bytes | str],
    presented: bytes | str,
) -> None:
    if not matches_any(keys, expected, presented):
        raise SignatureRejected(MISMATCH)


def unix_time(text: str, what: str) -> datetime:
    """A signed unix timestamp (seconds, or milliseconds when it has 13 or more digits)."""
    value = text.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 16:
        raise SignatureRejected(f"{what} is not a unix timestamp")
    seconds = int(value) / 1000 if len(value) >= 13 else int(value)
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise SignatureRejected(f"{what} is not a unix timestamp") from None


def require_within_window(
    signed_at: datetime, now: datetime, window: int = REPLAY_WINDOW_SECONDS
) -> None:
    """Refuse a timestamp more than ``window`` seconds from ``now`` (replays, and clocks
    too far apart)."""
    if abs((now - signed_at).total_seconds()) > window:
        raise SignatureRejected(f"timestamp outside the {window} s window")


def require_ok(fetched: Fetched, what: str) -> bytes:
    """The body of a 200 answer. A server error or 429 is :class:`Unreachable` (the
    provider retries later); any other status is :class:`SignatureRejected` (the request
    named something that is not there: retrying will not help)."""
    status = fetched.status_code
    if status == 200:
        return fetched.body
    if status == 429 or status >= 500:
        raise Unreachable(f"{what}: the server answered HTTP {status}")
    raise SignatureRejected(f"{what}: the server answered HTTP {status}")
