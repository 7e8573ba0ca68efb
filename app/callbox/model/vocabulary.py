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


class ReportKind(StrEnum):
    """What a report about an outbound message says (docs/statuses.md, "E-mail").

    Only a ``STATUS`` report can change the message's status (by precedence); every other
    kind is kept in the message's history beside it. A message first known from another kind
    takes the status that report implies (its ``status``: DELIVERED for an open, SENT for a
    deferral) until a provider reports one.
    """

    STATUS = "STATUS"
    """A delivery status: sent, delivered, failed..."""
    DEFERRED = "DEFERRED"
    """Delivery delayed (soft bounce, greylisting, deferral): the message is not ended."""
    OPENED = "OPENED"
    """The recipient opened it."""
    CLICKED = "CLICKED"
    """The recipient clicked a link in it (``detail``: the link)."""
    COMPLAINED = "COMPLAINED"
    """The recipient marked it as spam (also an opt-out, source ``complaint``)."""
    UNSUBSCRIBED = "UNSUBSCRIBED"
    """The recipient unsubscribed through it (also an opt-out, source ``unsubscribe``)."""

    @property
    def changes_status(self) -> bool:
        return self is ReportKind.STATUS


class BounceType(StrEnum):
    """What kind of bounce a report is, when it is one (kept with the report)."""

    HARD = "HARD"
    """The address does not work (no such mailbox or domain): sending again fails again."""
    SOFT = "SOFT"
    """A temporary failure (mailbox full, greylisting, DNS): a later attempt may work."""
    BLOCKED = "BLOCKED"
    """Refused by policy: a spam filter, a blocklist, DMARC, a virus scan."""
    SUPPRESSED = "SUPPRESSED"
    """Not attempted: the address is on the provider's suppression list."""
    UNDETERMINED = "UNDETERMINED"
    """A bounce the provider could not classify."""


class OptOutSource(StrEnum):
    """What put a row in the opt-out ledger (its ``source``)."""

    PROVIDER = "provider"
    """An opt-out (or opt-in) push from the provider, such as a STOP it handled."""
    KEYWORD = "keyword"
    """An inbound message that is an opt-out keyword (STOP, START...)."""
    STATUS = "status"
    """A delivery status that says the recipient opted out."""
    COMPLAINT = "complaint"
    """The recipient marked our e-mail as spam."""
    UNSUBSCRIBE = "unsubscribe"
    """The recipient unsubscribed (a link, a list-unsubscribe header, a reply), or
    subscribed again."""
    SUPPRESSION = "suppression"
    """The provider put the address on (or took it off) its suppression list: a hard
    bounce, a manual suppression."""


class OptOutAction(StrEnum):
    OPT_OUT = "OPT_OUT"
    OPT_IN = "OPT_IN"


class NotificationState(StrEnum):
    """Where a stored request stands. Acknowledged requests are PENDING until their events
    are applied; then ACCEPTED, DUPLICATE (every event had been applied before) or FAILED
    (applying them failed; ``reason`` says why, ``callbox reprocess`` tries again)."""

    PENDING = "PENDING"
    ACCEPTED = "ACCEPTED"
    DUPLICATE = "DUPLICATE"
    REJECTED = "REJECTED"
    FAILED = "FAILED"
