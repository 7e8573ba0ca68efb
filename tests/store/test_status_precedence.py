"""Status precedence: the SQL (``callbox_status_takes_over``) against docs/statuses.md.

docs/statuses.md, "Precedence": a message's current status never moves from a final status
(``DELIVERED``, ``FAILED``) back to a non-final one; between two statuses of the same finality
the later provider timestamp wins, and on a tie or a missing timestamp the later arrival.

The expected table below is written from that prose, not from the SQL: every ordered pair
(current, new) of statuses, under every kind of timing, in one query; then a few pairs go
through the real write path (``callbox_accept_batch`` then
``callbox_apply_pending``, the statements the ingest writer and the applier run)
in both arrival orders.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from callbox.model.vocabulary import Status
from tests.support import store_and_apply

DOCS = Path(__file__).resolve().parents[2] / "docs" / "statuses.md"

# --- The documented rule, as data ------------------------------------------------------------

# The final statuses, as the precedence paragraph names them ("a final status (`DELIVERED`,
# `FAILED`)") and the table's "final" column marks them (yes). RECEIVED's "final" cell is blank
# (it is an inbound message's status, which no receipt changes): not named final, so it is
# non-final here.
FINAL: dict[Status, bool] = {
    Status.RECEIVED: False,
    Status.PENDING: False,
    Status.SENT: False,
    Status.DELIVERED: True,
    Status.FAILED: True,
    Status.UNKNOWN: False,
}

# Whether a new status takes over from the current one, by status alone:
#   K  keep the current one: never from a final status back to a non-final one;
#   N  the new one: a final status after a non-final one. The docs do not say this in so many
#      words, but it is what "never moves back" needs to hold whatever order reports arrive
#      in (`sending` then `delivered` must end where `delivered` then `sending` ends);
#   T  same finality: decided by time (TIMINGS below).
# Rows: the current status; columns: the new one, in the order of COLUMNS.
COLUMNS = (
    Status.RECEIVED,
    Status.PENDING,
    Status.SENT,
    Status.DELIVERED,
    Status.FAILED,
    Status.UNKNOWN,
)
GRID: dict[Status, str] = {
    #                  REC PEN SEN DEL FAI UNK
    Status.RECEIVED:  " T   T   T   N   N   T ",
    Status.PENDING:   " T   T   T   N   N   T ",
    Status.SENT:      " T   T   T   N   N   T ",
    Status.DELIVERED: " K   K   K   T   T   K ",
    Status.FAILED:    " K   K   K   T   T   K ",
    Status.UNKNOWN:   " T   T   T   N   N   T ",
}  # fmt: skip

T0 = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Timing:
    """The provider timestamps of the current and the new status; the new one arrived later."""

    name: str
    current_at: datetime | None
    new_at: datetime | None
    new_wins: bool  # between statuses of the same finality


TIMINGS = (
    Timing("new later", T0, T1, new_wins=True),  # the later provider timestamp wins
    Timing("new earlier", T1, T0, new_wins=False),  # ... so an older report loses
    Timing("tie", T0, T0, new_wins=True),  # a tie: the later arrival
    Timing("current time missing", None, T0, new_wins=True),  # a missing timestamp: ...
    Timing("new time missing", T0, None, new_wins=True),  # ... the later arrival
    Timing("both times missing", None, None, new_wins=True),
)


def cell(current: Status, new: Status) -> str:
    return GRID[current].split()[COLUMNS.index(new)]


def expected_takes_over(current: Status, new: Status, timing: Timing) -> bool:
    match cell(current, new):
        case "K":
            return False
        case "N":
            return True
        case _:
            return timing.new_wins


# --- The data stays true to the docs -----------------------------------------------------------


def documented_finality() -> dict[str, str]:
    """Callbox status -> its "final" cell in the docs' first table (yes, no or blank)."""
    text = DOCS.read_text()
    table = text.split("| Callbox status | meaning | final |", 1)[1].split("\n\n", 1)[0]
    found: dict[str, str] = {}
    for line in table.splitlines():
        match = re.fullmatch(r"\| `([A-Z_]+)` \|[^|]*\|\s*([a-z]*)\s*\|", line.strip())
        if match:
            found[match[1]] = match[2]
    return found


def test_the_expected_table_covers_every_status_and_agrees_with_the_docs() -> None:
    assert set(FINAL) == set(Status) == set(COLUMNS) == set(GRID), "a status is missing here"
    documented = documented_finality()
    assert set(documented) == {status.value for status in Status}
    for status in Status:
        assert FINAL[status] == (documented[status.value] == "yes"), status
    assert "from a final status (`DELIVERED`,\n`FAILED`)" in DOCS.read_text()
    # The grid is the finality rule spelled out: K and N exactly across finalities.
    for current in Status:
        for new in Status:
            rule = "T" if FINAL[current] == FINAL[new] else ("K" if FINAL[current] else "N")
            assert cell(current, new) == rule, (current, new)


# --- The SQL function, every pair, one round trip ----------------------------------------------

_EVERY_PAIR = """
SELECT a.status AS current_status, b.status AS new_status, t.timing,
    callbox_status_takes_over(a.status, t.current_at, b.status, t.new_at) AS takes_over
FROM unnest($1::text[]) AS a (status)
CROSS JOIN unnest($1::text[]) AS b (status)
CROSS JOIN unnest($2::text[], $3::timestamptz[], $4::timestamptz[])
    AS t (timing, current_at, new_at)
"""


async def test_status_takes_over_follows_the_documented_table_for_every_pair(
    db: asyncpg.Connection,
) -> None:
    rows = await db.fetch(
        _EVERY_PAIR,
        [status.value for status in Status],
        [timing.name for timing in TIMINGS],
        [timing.current_at for timing in TIMINGS],
        [timing.new_at for timing in TIMINGS],
    )
    timings = {timing.name: timing for timing in TIMINGS}
    actual = {
        (Status(row["current_status"]), Status(row["new_status"]), row["timing"]): row["takes_over"]
        for row in rows
    }
    expected = {
        (current, new, timing.name): expected_takes_over(current, new, timing)
        for current in Status
        for new in Status
        for timing in TIMINGS
    }
    assert len(rows) == len(expected) == len(Status) ** 2 * len(TIMINGS)
    mismatches = [
        f"current {current} ({_at(timings[name].current_at)}), new {new}"
        f" ({_at(timings[name].new_at)}), {name}: docs say"
        f" {'new' if expected[current, new, name] else 'current'} wins,"
        f" SQL says {_verdict(actual[current, new, name])}"
        for (current, new, name) in expected
        if actual[current, new, name] is not expected[current, new, name]
    ]
    assert not mismatches, (
        f"{len(mismatches)} of {len(expected)} cases disagree with docs/statuses.md:\n"
        + "\n".join(mismatches)
    )


def _at(value: datetime | None) -> str:
    return "no time" if value is None else f"at {value:%H:%M}"


def _verdict(takes_over: bool | None) -> str:
    return {True: "new wins", False: "current wins", None: "NULL"}[takes_over]


# --- End to end: reports through the ingest statement, in both arrival orders ---------------------

_RECEIVER = "precedence"
_PROVIDER_WORDS = {
    Status.PENDING: "created",
    Status.SENT: "sending",
    Status.DELIVERED: "delivered",
    Status.FAILED: "permanent-failure",
    Status.UNKNOWN: "mystery",
}


@dataclass(frozen=True, slots=True)
class Report:
    status: Status
    occurred_at: datetime | None

    def __str__(self) -> str:
        return f"{self.status} {_at(self.occurred_at)}"


class Arrivals:
    """Posts one callback per report, as the ingest writer stores it; arrival is call order."""

    def __init__(self, db: asyncpg.Connection) -> None:
        self.db = db
        self.count = 0

    async def post(self, message: str, report: Report) -> None:
        self.count += 1
        event: dict[str, Any] = {
            "kind": "status",
            "dedupe_key": f"receipt:{message}:{self.count}",
            "provider_message_id": message,
            "channel": "SMS",
            "status": report.status.value,
            "provider_status": _PROVIDER_WORDS[report.status],
            "failure_reason": "PERMANENT" if report.status is Status.FAILED else None,
            "occurred_at": report.occurred_at.isoformat() if report.occurred_at else None,
            "recipient": "+447700900123",
            "metadata": {},
            "is_test": False,
        }
        item = {
            "receiver": _RECEIVER,
            "provider": "notify",
            "received_at": (T1 + timedelta(seconds=self.count)).isoformat(),
            "peer": "127.0.0.1",
            "client": "127.0.0.1",
            "method": "POST",
            "content_type": "application/json",
            "headers": {},
            "body_size": 2,
            "query_string": "",
            "our_address": "+447700900000",
            "events": [event],
        }
        rows = await store_and_apply(self.db, [item], [b"{}"])
        assert [(row["state"], row["applied"]) for row in rows] == [("ACCEPTED", 1)]

    async def current(self, message: str) -> tuple[Status, str | None, str | None, int]:
        row = await self.db.fetchrow(
            """
            SELECT m.status, m.provider_status, m.failure_reason,
                (SELECT count(*) FROM callbox_status_event s WHERE s.message = m.id) AS history
            FROM callbox_message m
            WHERE m.receiver = $1 AND m.direction = 'OUTBOUND' AND m.provider_message_id = $2
            """,
            _RECEIVER,
            message,
        )
        assert row is not None
        return Status(row["status"]), row["provider_status"], row["failure_reason"], row["history"]


def timing_between(current_at: datetime | None, new_at: datetime | None) -> Timing:
    """The TIMINGS entry for two timestamps, the new one's report arriving later."""
    if current_at is None or new_at is None:
        name = {
            (True, True): "both times missing",
            (True, False): "current time missing",
            (False, True): "new time missing",
        }[current_at is None, new_at is None]
    elif new_at == current_at:
        name = "tie"
    else:
        name = "new later" if new_at > current_at else "new earlier"
    (timing,) = (timing for timing in TIMINGS if timing.name == name)
    return timing


def table_outcome(first: Report, second: Report) -> Status:
    """The status the expected table says a message ends in, after first then second."""
    timing = timing_between(first.occurred_at, second.occurred_at)
    return (
        second.status if expected_takes_over(first.status, second.status, timing) else first.status
    )


# (a, b, the status after a then b, the status after b then a): written out by hand, and
# checked against the table too.
SCENARIOS = [
    pytest.param(
        Report(Status.DELIVERED, T0), Report(Status.SENT, T1), Status.DELIVERED, Status.DELIVERED,
        id="late sending after delivered, sending stamped later",
    ),
    pytest.param(
        Report(Status.SENT, T1), Report(Status.DELIVERED, T0), Status.DELIVERED, Status.DELIVERED,
        id="delivered stamped before sending",
    ),
    pytest.param(
        Report(Status.PENDING, T0), Report(Status.SENT, T1), Status.SENT, Status.SENT,
        id="non-final: later timestamp wins",
    ),
    pytest.param(
        Report(Status.DELIVERED, T0), Report(Status.FAILED, T1), Status.FAILED, Status.FAILED,
        id="final: later timestamp wins",
    ),
    pytest.param(
        Report(Status.FAILED, T0), Report(Status.UNKNOWN, None), Status.FAILED, Status.FAILED,
        id="unknown without a time never leaves failed",
    ),
    pytest.param(
        Report(Status.SENT, T0), Report(Status.UNKNOWN, T0), Status.UNKNOWN, Status.SENT,
        id="non-final tie: later arrival wins",
    ),
    pytest.param(
        Report(Status.DELIVERED, None), Report(Status.FAILED, T0), Status.FAILED, Status.DELIVERED,
        id="final, one time missing: later arrival wins",
    ),
    pytest.param(
        Report(Status.DELIVERED, None), Report(Status.SENT, None), Status.DELIVERED,
        Status.DELIVERED, id="no times: delivered stays",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("a", "b", "a_then_b", "b_then_a"), SCENARIOS)
async def test_a_message_ends_where_the_table_says_in_either_arrival_order(
    db: asyncpg.Connection, a: Report, b: Report, a_then_b: Status, b_then_a: Status
) -> None:
    assert (table_outcome(a, b), table_outcome(b, a)) == (a_then_b, b_then_a)
    arrivals = Arrivals(db)
    for message, order, outcome in (("m-ab", (a, b), a_then_b), ("m-ba", (b, a), b_then_a)):
        for report in order:
            await arrivals.post(message, report)
        status, provider_status, failure_reason, history = await arrivals.current(message)
        assert status is outcome, f"{order[0]} then {order[1]}: ended {status}, expected {outcome}"
        # The rest of the current status goes with it; the history keeps both reports.
        assert provider_status == _PROVIDER_WORDS[outcome]
        assert failure_reason == ("PERMANENT" if outcome is Status.FAILED else None)
        assert history == 2
