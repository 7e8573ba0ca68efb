"""The opt-out rules, in SQL: which inbound texts are keywords, and which ledger row decides."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from callbox.model.vocabulary import OptOutAction


@pytest.mark.parametrize(
    ("text", "action"),
    [
        ("STOP", OptOutAction.OPT_OUT),
        (" stop ", OptOutAction.OPT_OUT),
        ("Unsubscribe.", OptOutAction.OPT_OUT),
        ("STOPALL", OptOutAction.OPT_OUT),
        ("cancel", OptOutAction.OPT_OUT),
        ("END", OptOutAction.OPT_OUT),
        ("quit!", OptOutAction.OPT_OUT),
        ("Stop!\r\n", OptOutAction.OPT_OUT),
        ("START", OptOutAction.OPT_IN),
        ("unstop", OptOutAction.OPT_IN),
        ("please stop", None),
        ("STOP STOP", None),
        ("S T O P", None),
        ("", None),
        (None, None),
    ],
)
async def test_keyword_action(
    db: asyncpg.Connection, text: str | None, action: OptOutAction | None
) -> None:
    found = await db.fetchval("SELECT callbox_keyword_action($1)", text)
    assert found == (action.value if action else None)


async def _ledger(
    db: asyncpg.Connection, address: str, action: str, receiver: str, at: str
) -> None:
    await db.execute(
        "INSERT INTO callbox_opt_out (address, action, channel, provider, receiver, source,"
        " occurred_at) VALUES ($1, $2, 'SMS', 'notify', $3, 'test', $4)",
        address,
        action,
        receiver,
        datetime.fromisoformat(at).replace(tzinfo=UTC),
    )


async def _opted_out(
    db: asyncpg.Connection, addresses: list[str], receivers: list[str] | None = None
) -> bool:
    result: bool = await db.fetchval(
        "SELECT callbox_is_opted_out($1::text[], $2::text[])", addresses, receivers
    )
    return result


async def test_the_latest_ledger_row_by_occurrence_decides(db: asyncpg.Connection) -> None:
    address = "+447700900123"
    assert not await _opted_out(db, [address])  # no row: not opted out
    await _ledger(db, address, "OPT_OUT", "a", "2024-03-01T10:00:00")
    assert await _opted_out(db, [address])
    # An opt-in that happened earlier but arrived later does not undo the opt-out.
    await _ledger(db, address, "OPT_IN", "a", "2024-03-01T09:00:00")
    assert await _opted_out(db, [address])
    await _ledger(db, address, "OPT_IN", "b", "2024-03-01T11:00:00")
    assert not await _opted_out(db, [address])
    # Confined to receiver a, b's opt-in is not seen.
    assert await _opted_out(db, [address], ["a"])
    # Same time: the later arrival decides.
    await _ledger(db, address, "OPT_OUT", "b", "2024-03-01T11:00:00")
    assert await _opted_out(db, [address])
    # Any of the address's spellings.
    assert await _opted_out(db, ["07700900123", address])
    assert not await _opted_out(db, ["07700900123"])


@pytest.mark.parametrize(
    ("provider", "body", "rows"),
    [
        # A standard keyword the provider flags too: one row (the keyword rule's).
        ("twilio", "MessageSid=SM1&From=%2B15558675310&To=%2B15017250604&Body=Stop."
         "&SmsStatus=received&OptOutType=STOP", [("OPT_OUT", "keyword")]),
        ("plivo", "MessageUUID=in-1&From=447700900123&To=447700900999&Text=STOP"
         "&Type=sms&MessageIntent=optout", [("OPT_OUT", "keyword")]),
        # A keyword only the provider knows: its own row.
        ("twilio", "MessageSid=SM2&From=%2B15558675310&To=%2B15017250604&Body=ARRET"
         "&SmsStatus=received&OptOutType=STOP", [("OPT_OUT", "provider")]),
    ],
)  # fmt: skip
async def test_a_provider_flag_and_the_keyword_rule_record_one_row_per_request(
    db: asyncpg.Connection, database_url: str, provider: str, body: str, rows: list[tuple[str, str]]
) -> None:
    from callbox.settings import Receiver
    from tests.support import callbox_client, settings_for

    settings = settings_for(database_url, [Receiver(name=provider, provider=provider)])
    async with callbox_client(settings) as client:
        answer = await client.post(
            f"/hooks/{provider}",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert answer.status_code == 200, answer.text
    ledger = await db.fetch("SELECT action, source FROM callbox_opt_out ORDER BY id")
    assert [tuple(row) for row in ledger] == rows
    events = await db.fetchval("SELECT count(*) FROM callbox_event WHERE kind = 'OPTED_OUT'")
    assert events == len(rows)
