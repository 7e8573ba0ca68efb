"""What a Notify receipt writes, with and without the index migration (docs/indexes.md).

    uv run python -m bench.ingest.index_cost [--receipts 1000] [--rounds 3]

Makes two fresh databases on CALLBOX_BENCH_SERVER_URL (default: the PostgreSQL at
127.0.0.1:5432), ``<prefix>_before`` and ``<prefix>_after``, both migrated; ``before`` then
has the newest index migration rolled back (its ``ROLLBACK`` statements), so the two differ
only by it. Each gets the same warm-up (one receipt per number of the pool, so every
conversation exists, as in a steady state), then rounds of ``--receipts`` Notify delivery
receipts posted through the whole ASGI app (parse, group commit, apply) in groups of 32
concurrent requests, alternating before, after, before, after... Each round's WAL is read back
with pg_walinspect and counted only for the transactions that touched the round's database
(other databases on the same server write WAL too; a temporary replication slot keeps
the round's WAL until then); per receipt it prints the WAL bytes
(without full-page images, which depend on when the last checkpoint was), the B-tree
insertions (leaf inserts, posting-list inserts and splits) and those per index. The
databases are dropped at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import re
import secrets
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from litestar.testing import AsyncTestClient

from callbox.app import create_app
from callbox.settings import Auth, Database, Receiver, Settings
from callbox.store.migrate import run_migrations

SERVER_URL = os.environ.get(
    "CALLBOX_BENCH_SERVER_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
MIGRATION = (
    Path(__file__).resolve().parents[2] / "migrations" / "callbox_2026_12_03t10_00_00_000000.py"
)
TOKEN = "bench-token-" + secrets.token_hex(8)
NUMBERS = 1000
GROUP = 32
_INSERTS = ("INSERT_LEAF", "INSERT_POST", "SPLIT_L", "SPLIT_R")
_RELATION = re.compile(r"rel \d+/(\d+)/(\d+)")


def _url(database: str) -> str:
    head, _, tail = SERVER_URL.partition("?")
    return f"{head.rsplit('/', 1)[0]}/{database}" + (f"?{tail}" if tail else "")


def _rollback_statements() -> list[str]:
    spec = importlib.util.spec_from_file_location("index_migration", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    statements: list[str] = module.ROLLBACK
    return statements


def receipt(run: str, sequence: int) -> bytes:
    """A Notify delivery receipt as bench/ingest/notify.lua sends it."""
    number = f"+4477009{sequence % NUMBERS:05d}"
    return (
        f'{{"id":"{run}-{sequence:010d}","reference":"bench","to":"{number}",'
        '"status":"delivered","notification_type":"sms",'
        '"created_at":"2026-11-22T10:00:00.000000Z","completed_at":"2026-11-22T10:00:05.000000Z",'
        '"sent_at":"2026-11-22T10:00:01.000000Z"}'
    ).encode()


@dataclass
class Variant:
    name: str
    database: str
    oid: int = 0
    index_names: dict[int, str] = field(default_factory=dict)
    wal_bytes: list[float] = field(default_factory=list)
    fpi_bytes: list[float] = field(default_factory=list)
    btree: list[float] = field(default_factory=list)
    per_index: Counter[str] = field(default_factory=Counter)
    receipts: int = 0


async def prepare(variant: Variant, rollback: list[str]) -> None:
    admin = await asyncpg.connect(SERVER_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{variant.database}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{variant.database}"')
    finally:
        await admin.close()
    url = _url(variant.database)
    await run_migrations(url)
    connection = await asyncpg.connect(url)
    try:
        if variant.name == "before":
            for statement in rollback:
                await connection.execute(statement)
        await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
        variant.oid = await connection.fetchval(
            "SELECT oid FROM pg_database WHERE datname = current_database()"
        )
    finally:
        await connection.close()


async def post_receipts(client: AsyncTestClient[Any], run: str, first: int, count: int) -> None:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    for start in range(first, first + count, GROUP):
        stop = min(start + GROUP, first + count)
        responses = await asyncio.gather(
            *(
                client.post("/hooks/notify", content=receipt(run, n), headers=headers)
                for n in range(start, stop)
            )
        )
        for response in responses:
            if response.status_code != 200:
                raise SystemExit(f"{response.status_code}: {response.text}")


async def measured_round(
    variant: Variant, client: AsyncTestClient[Any], run: str, first: int, count: int
) -> None:
    connection = await asyncpg.connect(_url(variant.database))
    try:
        variant.index_names = {
            record["relfilenode"]: record["relname"]
            for record in await connection.fetch(
                "SELECT relfilenode::bigint, relname FROM pg_class WHERE relkind = 'i'"
            )
        }
        # A temporary slot keeps the round's WAL until it is read (other work on the server
        # may recycle segments meanwhile); it goes with this session.
        await connection.execute(
            "SELECT pg_create_physical_replication_slot($1, true, true)", f"{variant.database}_wal"
        )
        start = await connection.fetchval("SELECT pg_current_wal_lsn()")
        await post_receipts(client, run, first, count)
        end = await connection.fetchval("SELECT pg_current_wal_flush_lsn()")
        records = await connection.fetch(
            "SELECT xid::text::bigint AS xid, resource_manager, record_type, record_length,"
            " fpi_length, block_ref FROM pg_get_wal_records_info($1, $2)",
            start,
            end,
        )
    finally:
        await connection.close()
    ours = {
        record["xid"]
        for record in records
        if record["xid"] and _touches(record["block_ref"], variant.oid)
    }
    mine = [record for record in records if record["xid"] in ours]
    variant.wal_bytes.append(sum(r["record_length"] - r["fpi_length"] for r in mine) / count)
    variant.fpi_bytes.append(sum(r["fpi_length"] for r in mine) / count)
    inserts = [r for r in mine if r["resource_manager"] == "Btree" and r["record_type"] in _INSERTS]
    variant.btree.append(len(inserts) / count)
    for record in inserts:
        match = _RELATION.search(record["block_ref"] or "")
        if match is not None:
            name = variant.index_names.get(int(match.group(2)), match.group(2))
            variant.per_index[name] += 1
    variant.receipts += count


def _touches(block_ref: str | None, oid: int) -> bool:
    return block_ref is not None and any(
        int(match.group(1)) == oid for match in _RELATION.finditer(block_ref)
    )


def settings(variant: Variant) -> Settings:
    return Settings(
        receivers=[
            Receiver(
                name="notify",
                provider="notify",
                default_region="GB",
                our_address="+447700900999",
                auth=Auth(bearer=[TOKEN]),
            )
        ],
        database=Database(url=_url(variant.database), migrate_on_start=False),
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--receipts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--prefix", default="callbox_index_cost")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    rollback = _rollback_statements()
    variants = [
        Variant("before", f"{args.prefix}_before"),
        Variant("after", f"{args.prefix}_after"),
    ]
    run = secrets.token_hex(4)
    try:
        for variant in variants:
            await prepare(variant, rollback)
        # One app at a time: they would share the process's database engine.
        for variant in variants:
            async with AsyncTestClient(app=create_app(settings(variant))) as client:
                await post_receipts(client, run, 0, NUMBERS)  # every conversation exists
        first = NUMBERS
        for _ in range(args.rounds):
            for variant in variants:
                async with AsyncTestClient(app=create_app(settings(variant))) as client:
                    await measured_round(variant, client, run, first, args.receipts)
            first += args.receipts
        report(variants)
    finally:
        if not args.keep:
            admin = await asyncpg.connect(SERVER_URL)
            try:
                for variant in variants:
                    await admin.execute(
                        f'DROP DATABASE IF EXISTS "{variant.database}" WITH (FORCE)'
                    )
            finally:
                await admin.close()


def report(variants: list[Variant]) -> None:
    print(f"{'per receipt':<34}" + "".join(f"{v.name:>12}" for v in variants))
    rows = [
        ("WAL bytes (no full-page images)", [statistics.median(v.wal_bytes) for v in variants]),
        ("full-page image bytes", [statistics.median(v.fpi_bytes) for v in variants]),
        ("B-tree insertions", [statistics.median(v.btree) for v in variants]),
    ]
    for label, values in rows:
        print(f"{label:<34}" + "".join(f"{value:>12,.1f}" for value in values))
    print(
        "(medians over rounds; rounds: "
        + ", ".join(f"{v.name} " + "/".join(f"{x:,.0f}" for x in v.wal_bytes) for v in variants)
        + " WAL bytes)"
    )
    names = sorted({name for v in variants for name in v.per_index})
    print(f"\n{'B-tree insertions per receipt':<44}" + "".join(f"{v.name:>10}" for v in variants))
    for name in names:
        print(f"{name:<44}" + "".join(f"{v.per_index[name] / v.receipts:>10.2f}" for v in variants))


if __name__ == "__main__":
    asyncio.run(main())
