"""The e-mail rules of the model, in SQL (docs/statuses.md, "E-mail"): only a report of kind
STATUS changes a message's status; deferrals (soft bounces), opens, clicks, complaints and
unsubscribes are kept in its history; opens and clicks set the message's first open and
click; a hard bounce fails the message with its reason and bounce type; complaints and
unsubscribes go to the opt-out ledger with their source, and one that names only the message
takes its recipient.

Events are the providers' own dataclasses, encoded by ``encode_events`` and applied by
``callbox_accept_batch`` then ``callbox_apply_pending``: the statements the ingest writer
and the applier run.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from callbox.model.vocabulary import (
    BounceType,
    Channel,
    FailureReason,
    OptOutSource,
    ReportKind,
    Status,
)
from callbox.providers.base import Event, MessageReceived, OptOutReported, StatusReported
from callbox.store.apply import encode_events
from tests.support import store_and_apply

RECEIVER = "mail"
OURS = "news@example.org"
THEIRS = "jane@example.com"
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


class Mailbox:
    """Applies events one callback at a time, as the ingest writer does; arrival is call
    order (each callback a second after the last)."""

    def __init__(self, db: asyncpg.Connection) -> None:
        self.db = db
        self.count = 0

    async def post(self, *events: Event) -> None:
        self.count += 1
        item = {
            "receiver": RECEIVER,
            "provider": "mailgun",
            "received_at": (T0 + timedelta(hours=1, seconds=self.count)).isoformat(),
            "peer": "127.0.0.1",
            "client": "127.0.0.1",
            "method": "POST",
            "content_type": "application/json",
            "headers": {},
            "body_size": 2,
            "query_string": "",
            "our_address": OURS,
            "events": json.loads(encode_events(list(events))),
        }
        rows = await store_and_apply(self.db, [item], [b"{}"])
        assert [(row["state"], row["applied"]) for row in rows] == [("ACCEPTED", len(events))]

    async def message(self, provider_message_id: str = "m-1") -> dict[str, Any]:
        row = await self.db.fetchrow(
            "SELECT * FROM callbox_message WHERE receiver = $1 AND provider_message_id = $2",
            RECEIVER,
            provider_message_id,
        )
        assert row is not None
        return dict(row)

    async def history(self, provider_message_id: str = "m-1") -> list[tuple[Any, ...]]:
        rows = await self.db.fetch(
            "SELECT e.kind, e.status, e.provider_status, e.failure_reason, e.bounce_type,"
            " e.detail FROM callbox_status_event e JOIN callbox_message m ON m.id = e.message"
            " WHERE m.provider_message_id = $1 ORDER BY e.id",
            provider_message_id,
        )
        return [tuple(row) for row in rows]

    async def ledger(self) -> list[tuple[Any, ...]]:
        rows = await self.db.fetch(
            "SELECT o.address, o.action, o.channel, o.source, o.text, m.provider_message_id"
            " FROM callbox_opt_out o LEFT JOIN callbox_message m ON m.id = o.message"
            " ORDER BY o.id"
        )
        return [tuple(row) for row in rows]

    async def opted_out(self, address: str = THEIRS) -> bool:
        result: bool = await self.db.fetchval(
            "SELECT callbox_is_opted_out($1::text[], NULL)", [address]
        )
        return result


_count = 0


def report(
    status: Status,
    word: str,
    *,
    at: datetime | None,
    kind: ReportKind = ReportKind.STATUS,
    reason: FailureReason | None = None,
    bounce: BounceType | None = None,
    detail: str | None = None,
    message: str = "m-1",
    recipient: str | None = THEIRS,
    subject: str | None = None,
) -> StatusReported:
    global _count
    _count += 1
    return StatusReported(
        dedupe_key=f"status:{message}:{word}:{_count}",
        provider_message_id=message,
        channel=Channel.EMAIL,
        status=status,
        provider_status=word,
        failure_reason=reason,
        occurred_at=at,
        recipient=recipient,
        kind=kind,
        bounce_type=bounce,
        detail=detail,
        subject=subject,
    )


def delivered(at: datetime | None = T0) -> StatusReported:
    return report(Status.DELIVERED, "delivered", at=at)


def opened(at: datetime | None) -> StatusReported:
    return report(Status.DELIVERED, "opened", at=at, kind=ReportKind.OPENED)


def clicked(at: datetime | None, link: str = "https://example.com/a") -> StatusReported:
    return report(Status.DELIVERED, "clicked", at=at, kind=ReportKind.CLICKED, detail=link)


def soft_bounce(at: datetime | None) -> StatusReported:
    return report(
        Status.SENT,
        "failed",
        at=at,
        kind=ReportKind.DEFERRED,
        bounce=BounceType.SOFT,
        detail="450 greylisted",
    )


def hard_bounce(at: datetime | None) -> StatusReported:
    return report(
        Status.FAILED,
        "failed",
        at=at,
        reason=FailureReason.PERMANENT,
        bounce=BounceType.HARD,
        detail="550 5.1.1 no such user",
    )


def opt_out(
    source: OptOutSource,
    *,
    address: str | None = THEIRS,
    message: str | None = "m-1",
    opted_in: bool = False,
    at: datetime = T0,
) -> OptOutReported:
    global _count
    _count += 1
    return OptOutReported(
        dedupe_key=f"optout:{source}:{_count}",
        address=address,
        channel=Channel.EMAIL,
        occurred_at=at,
        source=source,
        opted_in=opted_in,
        provider_message_id=message,
        text=f"{source} report",
    )


@pytest.fixture
def mailbox(db: asyncpg.Connection) -> Mailbox:
    return Mailbox(db)


async def test_an_open_and_a_click_after_delivery_leave_it_delivered(mailbox: Mailbox) -> None:
    await mailbox.post(delivered(T0))
    await mailbox.post(opened(T0 + timedelta(minutes=5)))
    await mailbox.post(clicked(T0 + timedelta(minutes=6)))
    message = await mailbox.message()
    assert (message["status"], message["provider_status"], message["status_occurred_at"]) == (
        "DELIVERED",
        "delivered",
        T0,
    )
    assert message["delivered_at"] == T0
    assert message["opened_at"] == T0 + timedelta(minutes=5)
    assert message["clicked_at"] == T0 + timedelta(minutes=6)
    assert await mailbox.history() == [
        ("STATUS", "DELIVERED", "delivered", None, None, None),
        ("OPENED", "DELIVERED", "opened", None, None, None),
        ("CLICKED", "DELIVERED", "clicked", None, None, "https://example.com/a"),
    ]


async def test_subscribers_are_told_a_report_that_changes_no_status_is_a_report(
    mailbox: Mailbox,
) -> None:
    """The event log (what subscriptions deliver): a status report is STATUS_CHANGED, and
    a deferral, an open, a click, a complaint or an unsubscribe is REPORTED."""
    await mailbox.post(soft_bounce(T0))
    await mailbox.post(delivered(T0 + timedelta(minutes=1)))
    await mailbox.post(opened(T0 + timedelta(minutes=5)))
    await mailbox.post(clicked(T0 + timedelta(minutes=6)))
    await mailbox.post(
        report(Status.DELIVERED, "complained", at=T0, kind=ReportKind.COMPLAINED),
        opt_out(OptOutSource.COMPLAINT),
    )
    rows = await mailbox.db.fetch(
        "SELECT e.kind, s.kind AS report FROM callbox_event e"
        " LEFT JOIN callbox_status_event s ON s.id = e.status_event ORDER BY e.id"
    )
    assert [tuple(row) for row in rows] == [
        ("REPORTED", "DEFERRED"),
        ("STATUS_CHANGED", "STATUS"),
        ("REPORTED", "OPENED"),
        ("REPORTED", "CLICKED"),
        ("REPORTED", "COMPLAINED"),
        ("OPTED_OUT", None),
    ]


async def test_an_open_leaves_any_status_as_it_is(mailbox: Mailbox) -> None:
    """Even a non-final one, and a failure: an open never sets the status."""
    await mailbox.post(report(Status.SENT, "accepted", at=T0))
    await mailbox.post(opened(T0 + timedelta(minutes=1)))
    assert (await mailbox.message())["status"] == "SENT"
    await mailbox.post(hard_bounce(T0 + timedelta(minutes=2)))
    await mailbox.post(opened(T0 + timedelta(minutes=3)))
    message = await mailbox.message()
    assert (message["status"], message["failure_reason"]) == ("FAILED", "PERMANENT")


async def test_the_first_open_and_click_are_kept_whatever_order_they_arrive_in(
    mailbox: Mailbox,
) -> None:
    later, earlier = T0 + timedelta(hours=2), T0 + timedelta(hours=1)
    await mailbox.post(opened(later), clicked(later))
    await mailbox.post(opened(earlier), clicked(earlier))
    await mailbox.post(opened(later + timedelta(hours=1)))
    message = await mailbox.message()
    assert (message["opened_at"], message["clicked_at"]) == (earlier, earlier)
    # An open the provider did not date counts from its arrival.
    await mailbox.post(
        report(Status.DELIVERED, "opened", at=None, kind=ReportKind.OPENED, message="m-2")
    )
    undated = await mailbox.message("m-2")
    assert undated["opened_at"] == T0 + timedelta(hours=1, seconds=4)  # the 4th callback


async def test_a_soft_bounce_does_not_end_the_message(mailbox: Mailbox) -> None:
    await mailbox.post(report(Status.SENT, "accepted", at=T0))
    await mailbox.post(soft_bounce(T0 + timedelta(minutes=1)))
    message = await mailbox.message()
    assert (message["status"], message["provider_status"], message["failure_reason"]) == (
        "SENT",
        "accepted",
        None,
    )
    assert message["status_occurred_at"] == T0
    assert not Status(message["status"]).is_final
    # Delivered after the retry: the deferral never stood in the way.
    await mailbox.post(delivered(T0 + timedelta(minutes=30)))
    message = await mailbox.message()
    assert (message["status"], message["delivered_at"]) == (
        "DELIVERED",
        T0 + timedelta(minutes=30),
    )
    assert await mailbox.history() == [
        ("STATUS", "SENT", "accepted", None, None, None),
        ("DEFERRED", "SENT", "failed", None, "SOFT", "450 greylisted"),
        ("STATUS", "DELIVERED", "delivered", None, None, None),
    ]


async def test_a_hard_bounce_fails_the_message_with_its_reason(mailbox: Mailbox) -> None:
    await mailbox.post(report(Status.SENT, "accepted", at=T0))
    await mailbox.post(soft_bounce(T0 + timedelta(minutes=1)))
    await mailbox.post(hard_bounce(T0 + timedelta(hours=1)))
    message = await mailbox.message()
    assert (message["status"], message["provider_status"], message["failure_reason"]) == (
        "FAILED",
        "failed",
        "PERMANENT",
    )
    assert message["status_occurred_at"] == T0 + timedelta(hours=1)
    assert (await mailbox.history())[-1] == (
        "STATUS",
        "FAILED",
        "failed",
        "PERMANENT",
        "HARD",
        "550 5.1.1 no such user",
    )
    # A deferral arriving late does not bring it back.
    await mailbox.post(soft_bounce(T0 + timedelta(hours=2)))
    assert (await mailbox.message())["status"] == "FAILED"


async def test_a_message_first_known_from_an_open_is_delivered_until_a_status_says_more(
    mailbox: Mailbox,
) -> None:
    """What an open implies (delivered) is its status, with no status time: the first status
    a provider reports takes over, even one dated earlier."""
    await mailbox.post(opened(T0 + timedelta(minutes=10)))
    message = await mailbox.message()
    assert (message["status"], message["provider_status"]) == ("DELIVERED", "opened")
    assert (message["status_occurred_at"], message["delivered_at"]) == (None, None)
    await mailbox.post(delivered(T0))
    message = await mailbox.message()
    assert (message["status"], message["provider_status"]) == ("DELIVERED", "delivered")
    assert (message["status_occurred_at"], message["delivered_at"]) == (T0, T0)


async def test_a_message_first_known_from_a_deferral_is_sent(mailbox: Mailbox) -> None:
    await mailbox.post(soft_bounce(T0))
    message = await mailbox.message()
    assert (message["status"], message["status_occurred_at"]) == ("SENT", None)
    await mailbox.post(report(Status.PENDING, "accepted", at=T0 - timedelta(minutes=1)))
    assert (await mailbox.message())["status"] == "PENDING"


async def test_a_complaint_opts_the_recipient_out_and_is_in_the_history(
    mailbox: Mailbox,
) -> None:
    await mailbox.post(delivered(T0))
    complaint = report(
        Status.DELIVERED, "complained", at=T0 + timedelta(days=1), kind=ReportKind.COMPLAINED
    )
    await mailbox.post(complaint, opt_out(OptOutSource.COMPLAINT, at=T0 + timedelta(days=1)))
    assert await mailbox.opted_out()
    assert await mailbox.ledger() == [
        (THEIRS, "OPT_OUT", "EMAIL", "complaint", "complaint report", "m-1")
    ]
    message = await mailbox.message()
    assert message["status"] == "DELIVERED"
    assert [row[0] for row in await mailbox.history()] == ["STATUS", "COMPLAINED"]


async def test_unsubscribe_and_suppression_then_opt_in(mailbox: Mailbox) -> None:
    await mailbox.post(opt_out(OptOutSource.UNSUBSCRIBE, at=T0))
    assert await mailbox.opted_out()
    await mailbox.post(opt_out(OptOutSource.SUPPRESSION, opted_in=True, at=T0 + timedelta(1)))
    assert not await mailbox.opted_out()
    await mailbox.post(opt_out(OptOutSource.SUPPRESSION, at=T0 + timedelta(2)))
    assert await mailbox.opted_out()
    assert [(row[1], row[3]) for row in await mailbox.ledger()] == [
        ("OPT_OUT", "unsubscribe"),
        ("OPT_IN", "suppression"),
        ("OPT_OUT", "suppression"),
    ]


async def test_an_opt_out_naming_only_the_message_takes_its_recipient(mailbox: Mailbox) -> None:
    await mailbox.post(delivered(T0))
    await mailbox.post(opt_out(OptOutSource.UNSUBSCRIBE, address=None))
    assert await mailbox.ledger() == [
        (THEIRS, "OPT_OUT", "EMAIL", "unsubscribe", "unsubscribe report", "m-1")
    ]
    assert await mailbox.opted_out()
    event = await mailbox.db.fetchrow("SELECT kind, address FROM callbox_event ORDER BY id DESC")
    assert tuple(event) == ("OPTED_OUT", THEIRS)


async def test_an_opt_out_with_no_address_known_records_nothing_in_the_ledger(
    mailbox: Mailbox,
) -> None:
    """Neither the payload nor the message says who: nothing to record (the report is
    applied, and the raw request kept)."""
    await mailbox.post(opt_out(OptOutSource.UNSUBSCRIBE, address=None, message="unknown"))
    await mailbox.post(report(Status.DELIVERED, "delivered", at=T0, recipient=None))
    await mailbox.post(opt_out(OptOutSource.UNSUBSCRIBE, address=None))
    assert await mailbox.ledger() == []
    assert await mailbox.db.fetchval("SELECT count(*) FROM callbox_applied_event") == 3


async def test_subjects_are_kept_on_outbound_and_inbound_messages(mailbox: Mailbox) -> None:
    await mailbox.post(report(Status.SENT, "accepted", at=T0, subject=None))
    await mailbox.post(
        report(Status.DELIVERED, "delivered", at=T0 + timedelta(minutes=1), subject="Your order")
    )
    await mailbox.post(
        report(Status.DELIVERED, "opened", at=T0, kind=ReportKind.OPENED, subject="Other")
    )
    assert (await mailbox.message())["subject"] == "Your order"
    reply = MessageReceived(
        dedupe_key="inbound:r-1",
        provider_message_id="r-1",
        channel=Channel.EMAIL,
        sender=THEIRS,
        recipient=OURS,
        body="Thanks!\n",
        occurred_at=T0 + timedelta(hours=1),
        subject="Re: Your order",
    )
    await mailbox.post(reply)
    inbound = await mailbox.message("r-1")
    assert (inbound["direction"], inbound["subject"], inbound["body"]) == (
        "INBOUND",
        "Re: Your order",
        "Thanks!\n",
    )
    # One thread between the two addresses.
    assert inbound["conversation"] == (await mailbox.message())["conversation"] is not None
