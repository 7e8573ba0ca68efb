"""Why a subscription cannot start or has ended, each with what the client can do about it.

Every error that ends a running subscription carries the position up to which the client
has received every matching event: resubscribing with that cursor as ``after`` loses
nothing and repeats nothing.
"""

from __future__ import annotations

from callbox.events.position import EventPosition


class LiveUpdateError(Exception):
    """``code`` is what clients match on; the message says what to do."""

    code = "LIVE_UPDATES_ERROR"

    def __init__(self, message: str, resume_from: EventPosition | None = None) -> None:
        super().__init__(message)
        self.resume_from = resume_from


class BadCursor(LiveUpdateError):
    code = "BAD_USER_INPUT"


class CursorExpired(LiveUpdateError):
    """The cursor is older than the replay window: events after it may have been purged."""

    code = "CURSOR_EXPIRED"


class LiveUpdatesUnavailable(LiveUpdateError):
    """The process has no working connection to the event log right now; retry shortly."""

    code = "LIVE_UPDATES_UNAVAILABLE"


class LiveUpdatesInterrupted(LiveUpdateError):
    """The database stayed out of reach too long; resubscribe with the cursor."""

    code = "LIVE_UPDATES_INTERRUPTED"


class SubscriberTooSlow(LiveUpdateError):
    """The client read events more slowly than they came, past the queue bound."""

    code = "SUBSCRIBER_TOO_SLOW"


class ShuttingDown(LiveUpdateError):
    """This process is stopping; resubscribe (to another replica) with the cursor."""

    code = "SHUTTING_DOWN"
