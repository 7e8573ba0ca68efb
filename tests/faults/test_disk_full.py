"""Item 13 of issue 16: a full disk is 503 with a long Retry-After, and ``/ready`` is 503 while
the store cannot write, so a replica that cannot store leaves the rotation; both recover by
themselves once writes succeed again.

The disk is not really filled (a tablespace on a tiny tmpfs or loop mount needs privileges a
test run does not have): PostgreSQL itself raises what it raises on a full disk, SQLSTATE
53100 (``could not extend file ... No space left on device``), from a trigger on the table
every callback writes to. To Callbox this is the real error from the real server.
"""

from __future__ import annotations

import asyncpg
import httpx

from tests.faults.support import assert_unavailable, fault_settings, post_receipt
from tests.support import served

ID = "44444444-0000-4000-8000-000000000004"

DISK_FULL = """
CREATE FUNCTION test_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'could not extend file "base/1/2": No space left on device'
        USING ERRCODE = 'disk_full';
END $$;
CREATE TRIGGER test_disk_full BEFORE INSERT ON callbox_notification
    FOR EACH ROW EXECUTE FUNCTION test_disk_full();
"""
DISK_FREED = "DROP TRIGGER test_disk_full ON callbox_notification; DROP FUNCTION test_disk_full();"


async def test_disk_full_is_503_and_not_ready_until_writes_succeed(
    db: asyncpg.Connection, database_url: str
) -> None:
    async with served(fault_settings(database_url)) as base, httpx.AsyncClient() as http:
        assert (await http.get(f"{base}/ready")).status_code == 200
        await db.execute(DISK_FULL)
        try:
            assert_unavailable(await post_receipt(http, base, ID), retry_after=120)
            ready = await http.get(f"{base}/ready")
            assert ready.status_code == 503, ready.text
            assert ready.json()["checks"]["database"] == "cannot store: DiskFullError"
            # Still full: still not ready (the check tries a write, rolled back).
            assert (await http.get(f"{base}/ready")).status_code == 503
        finally:
            await db.execute(DISK_FREED)
        assert (await http.get(f"{base}/ready")).status_code == 200
        assert (await post_receipt(http, base, ID)).status_code == 200
    assert await db.fetchval("SELECT count(*) FROM callbox_notification") == 1
