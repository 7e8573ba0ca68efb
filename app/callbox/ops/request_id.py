"""Request ids: a well-formed incoming ``X-Request-ID`` is kept, anything else replaced."""

from __future__ import annotations

import re
import uuid
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
    return uuid.uuid4().hex
