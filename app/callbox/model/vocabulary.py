"""The one status vocabulary every provider is normalised to (see docs/statuses.md)."""

from enum import StrEnum


class Direction(StrEnum):
    INBOUND = "INBOUND"
    OUTBOUND = "OUTBOUND"


class Channel(StrEnum):
    SMS = "SMS"
    EMAIL = "EMAIL"
    VOICE = "VOICE"
    LETTER = "LETTER"
    """Post: GOV.UK Notify's letters (returned-letter callbacks)."""


class Status(StrEnum):
    RECEIVED = "RECEIVED"
    PENDING = "PENDING"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"
    UNKNOWN = "UNKNOWN"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({Status.DELIVERED, Status.FAILED})


class FailureReason(StrEnum):
    PERMANENT = "PERMANENT"
    TEMPORARY = "TEMPORARY"
    TECHNICAL = "TECHNICAL"
    BLOCKED = "BLOCKED"
    INVALID_RECIPIENT = "INVALID_RECIPIENT"
    EXPIRED = "EXPIRED"
    UNKNOWN = "UNKNOWN"


class OptOutAction(StrEnum):
    OPT_OUT = "OPT_OUT"
    OPT_IN = "OPT_IN"


class NotificationState(StrEnum):
    ACCEPTED = "ACCEPTED"
    DUPLICATE = "DUPLICATE"
    REJECTED = "REJECTED"
