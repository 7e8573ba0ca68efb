"""Item 12 of issue 16 (second half): an unexpected error (not a database fault, not a value
refused) is answered 500 and logged with its traceback; the log holds no payload value.

The error is real: a trigger on the table callbacks are written to raises a plain exception
(SQLSTATE P0001) quoting the request's body, as a misbehaving trigger installed by someone
else might; its message must not reach the log.
"""

from __future__ import annotations

import logging

import asyncpg
import httpx
import pytest

from tests.faults.support import PHONE, fault_settings, post_receipt
from tests.support import served

ID = "55555555-0000-4000-8000-000000000005"

REFUSING_TRIGGER = """
CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'refused %', convert_from(NEW.body, 'UTF8');
END $$;
CREATE TRIGGER test_refuse BEFORE INSERT ON callbox_notification
    FOR EACH ROW EXECUTE FUNCTION test_refuse();
"""
DROP_TRIGGER = "DROP TRIGGER test_refuse ON callbox_notification; DROP FUNCTION test_refuse();"


async def test_an_unexpected_error_is_500_and_logged_with_its_traceback_without_values(
    db: asyncpg.Connection, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with served(fault_settings(database_url)) as base, httpx.AsyncClient() as http:
        await db.execute(REFUSING_TRIGGER)
        try:
            response = await post_receipt(http, base, ID)
        finally:
            await db.execute(DROP_TRIGGER)
    assert response.status_code == 500, response.text
    errors = [record for record in caplog.records if record.levelno >= logging.ERROR]
    assert errors, "the unexpected error was not logged"
    text = "\n".join(record.getMessage() for record in errors)
    assert "Traceback (most recent call last)" in text
    assert "RaiseError" in text
    assert "writer.py" in text  # frames of Callbox's own code
    assert PHONE not in caplog.text
    assert "7700900123" not in caplog.text
    assert "refused" not in caplog.text
