"""What kind of change an event records (the ``kind`` column of ``callbox_event``)."""

from enum import StrEnum


class EventKind(StrEnum):
    RECEIVED = "RECEIVED"
    """An inbound message was received."""
    STATUS_CHANGED = "STATUS_CHANGED"
    """A receipt reported a status of an outbound message (report kind STATUS; precedence
    decides whether it becomes the message's status)."""
    REPORTED = "REPORTED"
    """A report that leaves the message's status as it is joined its history: a deferral,
    an open, a click, a complaint or an unsubscribe (its report kind says which)."""
    RECORDED = "RECORDED"
    """The sending application recorded an outbound message (recordOutboundMessage)."""
    OPTED_OUT = "OPTED_OUT"
    """A row was added to the opt-out ledger (an opt-out, or an opt back in)."""
