"""What became of one callback, in the few words metrics and logs use.

The receiver handler leaves its :class:`IngestOutcome` in the request's scope state; the
status code alone says what happened to requests that never reached it (auth, 503).
"""

from __future__ import annotations

from callbox.ingest.pipeline import IngestOutcome
from callbox.model.vocabulary import NotificationState

ACCEPTED = "accepted"
DUPLICATE = "duplicate"
REJECTED = "rejected"
UNAUTHORISED = "unauthorised"
FORBIDDEN = "forbidden"
TOO_LARGE = "too_large"
UNAVAILABLE = "unavailable"
ERROR = "error"

# Reason classes of rejected callbacks (the reason text itself is free-form).
PAYLOAD = "payload"
DATABASE_VALUE = "database_value"
INTERNAL = "internal"

_BY_STATUS = {401: UNAUTHORISED, 403: FORBIDDEN, 413: TOO_LARGE, 503: UNAVAILABLE}


def classify(status_code: int, outcome: IngestOutcome | None) -> tuple[str, str]:
    """``(outcome, reason class)``; the reason class is empty unless the outcome is rejected."""
    if status_code == 200:
        if outcome is not None and outcome.state is NotificationState.DUPLICATE:
            return DUPLICATE, ""
        return ACCEPTED, ""
    if status_code in _BY_STATUS:
        return _BY_STATUS[status_code], ""
    if status_code == 400:
        reason = (outcome.reason or "") if outcome is not None else ""
        if reason.startswith("value refused by the database"):
            return REJECTED, DATABASE_VALUE
        return REJECTED, PAYLOAD
    if status_code == 500 and outcome is not None:
        return REJECTED, INTERNAL
    return ERROR, ""
