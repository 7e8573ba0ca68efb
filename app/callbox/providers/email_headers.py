"""What e-mail providers' callbacks share: mailboxes as headers write them
(``"Jane Doe" <Jane@Example.com>``), Message-IDs with or without their angle brackets, and
RFC 5322 dates (``Fri, 5 May 2023 17:44:33 -0400``).

Every helper raises :class:`PayloadRejected` naming the field, like those in
:mod:`callbox.providers.payloads`.
"""

from __future__ import annotations

import email.utils
import re
from datetime import UTC, datetime

from callbox.providers.base import PayloadRejected
from callbox.providers.payloads import address


def mailbox(value: str | None, *, field: str) -> str | None:
    """The address of a mailbox as a header writes it (``Name <a@b>``, ``a@b``,
    ``<a@b>``), normalised (lower-cased); ``None`` when there is no address in it
    (``"Test Sender "``, an empty field), since a display name alone names nobody.

    Raises:
        PayloadRejected: the address is longer than any e-mail address can be.
    """
    if value is None or not value.strip():
        return None
    _, addr_spec = email.utils.parseaddr(value)
    if "@" not in addr_spec:
        return None
    return address(addr_spec, None, field=field)


def required_mailbox(value: str | None, *, field: str) -> str:
    """:func:`mailbox`, for a field that must hold an address.

    Raises:
        PayloadRejected: no address in the field, or one too long.
    """
    found = mailbox(value, field=field)
    if found is None:
        raise PayloadRejected(f"{field}: expected an e-mail address, got {value!r:.80}")
    return found


def bare_message_id(value: str | None) -> str | None:
    """A Message-ID without its angle brackets and spaces (``<a.b@c>`` and ``a.b@c`` are
    the same message); ``None`` for an empty one."""
    if value is None:
        return None
    text = value.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1].strip()
    return text or None


_COLON_OFFSET = re.compile(r"([+-])(\d\d):(\d\d)$")


def header_date(value: str | None, *, field: str) -> datetime | None:
    """An RFC 5322 date (``Fri, 5 May 2023 17:44:33 -0400``) in UTC; ``None`` when empty.
    A date without a zone (``-0000`` says so too) is read as UTC, as RFC 5322 says.

    Raises:
        PayloadRejected: not such a date.
    """
    if value is None or not value.strip():
        return None
    # Some senders write the zone as -04:00, which the parser would silently drop.
    text = _COLON_OFFSET.sub(r"\1\2\3", value.strip())
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        raise PayloadRejected(f"{field}: not an e-mail date: {value!r:.80}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):
        raise PayloadRejected(f"{field}: date out of range: {value!r:.80}") from None
