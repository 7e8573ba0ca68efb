"""The SQL functions that write the model: one file each in ``store/sql/``, today's body.

Migrations change tables and indexes; the functions are not in them. After the migrations,
:func:`apply_sql_functions` runs every ``store/sql/*.sql`` file (each one
``CREATE OR REPLACE FUNCTION``) in one transaction, then drops any ``callbox_*`` function the
files no longer define (a function removed, or an old signature left behind), so the
database holds exactly what the files say. Changing a function is editing its file; a change
of signature or return type also needs a migration that drops the old function first
(``CREATE OR REPLACE`` cannot change those).
"""

from __future__ import annotations

import re
from pathlib import Path

from callbox.db.connection import Connection

SQL_FOLDER = Path(__file__).resolve().parent / "sql"

_DEFINES = re.compile(r"^CREATE OR REPLACE FUNCTION (callbox_\w+)\(", re.MULTILINE)

# Functions of ours that this transaction did not just (re)create: stale, to be dropped.
_STALE = """
SELECT p.oid::regprocedure::text AS signature
FROM pg_proc p
WHERE p.pronamespace = current_schema()::regnamespace
  AND p.proname LIKE 'callbox\\_%'
  AND p.xmin <> pg_current_xact_id()::xid
ORDER BY 1
"""


def sql_function_files() -> list[str]:
    """Every function file's text, in name order; each file must define exactly the function
    it is named after."""
    files = []
    for path in sorted(SQL_FOLDER.glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        defined = _DEFINES.findall(text)
        if defined != [path.stem]:
            raise ValueError(
                f"{path.name} must define one function, {path.stem}, with"
                f" CREATE OR REPLACE FUNCTION at the start of a line (found {defined or 'none'})"
            )
        files.append(text)
    return files


async def apply_sql_functions(connection: Connection) -> tuple[int, list[str]]:
    """Create or replace every function, drop stale ones; returns how many functions were
    applied and the dropped signatures.

    Runs in one transaction: other sessions see the old set or the new one, never a mix.
    Call under the migration lock, after the migrations.
    """
    files = sql_function_files()
    async with connection.transaction():
        for text in files:
            await connection.execute(text)
        stale: list[str] = [row["signature"] for row in await connection.fetch(_STALE)]
        for signature in stale:
            await connection.execute(f"DROP FUNCTION {signature}")
    return len(files), stale
