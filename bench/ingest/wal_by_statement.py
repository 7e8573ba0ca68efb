"""WAL written per Notify receipt by each ingest statement, measured by the statement itself.

    uv run python -m bench.ingest.wal_by_statement [--batch 50] [--rounds 10]

Stores and applies ``--rounds`` batches of ``--batch`` Notify receipts (unique ids, so none is
a duplicate) on a fresh database with the statements the ingest writer and the applier run,
each under ``EXPLAIN (ANALYZE, WAL)``: the figures are what those statements wrote, whatever
else the server does meanwhile (the server is shared; ``pg_current_wal_lsn()`` differences
would count every other database's WAL too). Commit records are not included. The first two
rounds warm up and are not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from bench.ingest.run import drop_database, fresh_database
from callbox.providers.base import InboundRequest
from callbox.receivers import prepare_receiver
from callbox.settings import Receiver
from callbox.store.apply import encode_events

ACCEPT = (
    "EXPLAIN (ANALYZE, WAL, FORMAT JSON) SELECT * FROM callbox_accept_batch($1::jsonb, $2::bytea[])"
)
APPLY = "EXPLAIN (ANALYZE, WAL, FORMAT JSON) SELECT * FROM callbox_apply_pending($1::bigint[])"
WARM_UP_ROUNDS = 2


def notify_receipt(index: int) -> bytes:
    return json.dumps(
        {
            "id": str(uuid.uuid4()),
            "reference": f"ref-{index}",
            "to": "+447700900123",
            "status": "delivered",
            "notification_type": "sms",
            "created_at": "2026-11-22T10:00:00.000000Z",
            "completed_at": "2026-11-22T10:00:05.000000Z",
            "sent_at": "2026-11-22T10:00:01.000000Z",
        }
    ).encode()


def item(index: int) -> tuple[dict[str, Any], bytes]:
    """One stored callback as the ingest writer sends it, and its body."""
    receiver = prepare_receiver(Receiver(name="notify", provider="notify"), 0)
    body = notify_receipt(index)
    request = InboundRequest.from_stored("POST", "application/json", {}, body, "")
    events = receiver.provider.parse(request, receiver.context)
    document = {
        "receiver": "notify",
        "provider": "notify",
        "received_at": datetime.now(UTC).isoformat(),
        "peer": "127.0.0.1",
        "client": "127.0.0.1",
        "method": "POST",
        "content_type": "application/json",
        "headers": {"content-type": "application/json", "user-agent": "NOTIFY-API-PYTHON-CLIENT"},
        "body_size": len(body),
        "query_string": "",
        "our_address": None,
        "events": json.loads(encode_events(list(events))),
    }
    return document, body


def wal(plan: str) -> tuple[int, int, int]:
    """(records, full-page images, bytes) from an EXPLAIN (ANALYZE, WAL, FORMAT JSON)."""
    top = json.loads(plan)[0]["Plan"]
    return top.get("WAL Records", 0), top.get("WAL FPI", 0), top.get("WAL Bytes", 0)


async def measure(url: str, batch: int, rounds: int) -> dict[str, list[int]]:
    totals = {"store (acknowledgement)": [0, 0, 0], "apply (behind it)": [0, 0, 0]}
    connection = await asyncpg.connect(url)
    try:
        for round_number in range(rounds + WARM_UP_ROUNDS):
            items = [item(index) for index in range(batch)]
            documents = json.dumps([document for document, _ in items])
            async with connection.transaction():
                stored = wal(await connection.fetchval(ACCEPT, documents, [b for _, b in items]))
            ids = [
                row["notification"]
                for row in await connection.fetch("SELECT notification FROM callbox_pending_apply")
            ]
            async with connection.transaction():
                applied = wal(await connection.fetchval(APPLY, ids))
            if round_number >= WARM_UP_ROUNDS:
                for name, figures in zip(totals, (stored, applied), strict=True):
                    for index, value in enumerate(figures):
                        totals[name][index] += value
    finally:
        await connection.close()
    return totals


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=10)
    arguments = parser.parse_args()
    server = os.environ.get(
        "CALLBOX_BENCH_SERVER_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    url = await fresh_database(server)
    try:
        totals = await measure(url, arguments.batch, arguments.rounds)
    finally:
        await drop_database(server, url)
    receipts = arguments.batch * arguments.rounds
    print("| statement | WAL records | full-page images | WAL bytes |")
    print("| --- | ---: | ---: | ---: |")
    all_figures = [0, 0, 0]
    for name, (records, fpi, size) in totals.items():
        print(
            f"| {name} | {records / receipts:.1f} | {fpi / receipts:.2f} | {size / receipts:,.0f} |"
        )
        all_figures = [a + b for a, b in zip(all_figures, (records, fpi, size), strict=True)]
    records, fpi, size = all_figures
    print(
        f"| per receipt | {records / receipts:.1f} | {fpi / receipts:.2f}"
        f" | {size / receipts:,.0f} |"
    )


if __name__ == "__main__":
    asyncio.run(main())
