"""Request ids: a well-formed incoming ``X-Request-ID`` is kept, anything else replaced."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

REQUEST_ID_HEADER = b"x-request-id"
_ACCEPTABLE = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._:+=/-]{0,127}")


def request_id_from(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The caller's request id if it is short and plain (it is logged and echoed), else new."""
    for name, value in headers:
        if name == REQUEST_ID_HEADER:
            if _ACCEPTABLE.fullmatch(value):
                return value.decode("ascii")
            break
    return new_request_id()


def new_request_id() -> str:
    """A random (version 4) UUID as 32 hex digits, as ``uuid.uuid4().hex`` gives it, without
    building the UUID object."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40  # version 4
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    return raw.hex()
