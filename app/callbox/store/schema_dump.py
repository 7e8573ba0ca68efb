"""The database schema as one readable text: tables, constraints, indexes and functions.

``schema.sql`` at the top of the repository is this text for a database migrated from
scratch; ``tests/store/test_schema_sql.py`` checks it is fresh, and rewrites it when run with
``CALLBOX_WRITE_SCHEMA_SQL=1``. Read it to see today's tables and functions in one place;
change them in ``migrations/`` (tables, indexes) and ``app/callbox/store/sql/`` (functions).
"""

from __future__ import annotations

from callbox.db.connection import Connection

HEADER = """\
-- Callbox's database schema, as a database migrated from scratch has it: generated, not
-- applied. Tables and indexes come from migrations/, functions from
-- app/callbox/store/sql/. Regenerate: CALLBOX_WRITE_SCHEMA_SQL=1 uv run pytest
-- tests/store/test_schema_sql.py
"""

_TABLES = """
SELECT c.oid, c.relname FROM pg_class c
WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
  AND c.relname LIKE 'callbox\\_%'
ORDER BY c.relname
"""

_COLUMNS = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull,
       pg_get_expr(d.adbin, d.adrelid) AS default
FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"""

_CONSTRAINTS = """
SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint
WHERE conrelid = $1 AND contype <> 'n'
ORDER BY contype = 'f', conname
"""

_INDEXES = """
SELECT pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
WHERE i.indrelid = $1
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
ORDER BY c.relname
"""

# Composed from the catalog rather than pg_get_functiondef, whose layout changes between
# PostgreSQL versions: the body (prosrc) is the text the function was created with.
_FUNCTIONS = """
SELECT p.proname, pg_get_function_arguments(p.oid) AS arguments,
       pg_get_function_result(p.oid) AS result, l.lanname,
       CASE p.provolatile WHEN 'i' THEN ' IMMUTABLE' WHEN 's' THEN ' STABLE' ELSE '' END
           AS volatility,
       p.prosrc
FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
WHERE p.pronamespace = current_schema()::regnamespace AND p.proname LIKE 'callbox\\_%'
ORDER BY p.proname, p.oid::regprocedure::text
"""


async def dump_schema(connection: Connection) -> str:
    parts = [HEADER]
    for table in await connection.fetch(_TABLES):
        lines = []
        for column in await connection.fetch(_COLUMNS, table["oid"]):
            line = f"    {column['attname']} {column['type']}"
            if column["attnotnull"]:
                line += " NOT NULL"
            if column["default"] is not None:
                line += f" DEFAULT {column['default']}"
            lines.append(line)
        for constraint in await connection.fetch(_CONSTRAINTS, table["oid"]):
            lines.append(f"    CONSTRAINT {constraint['conname']} {constraint['definition']}")
        parts.append(f"CREATE TABLE {table['relname']} (\n" + ",\n".join(lines) + "\n);\n")
        indexes = [
            f"{row['definition']};\n" for row in await connection.fetch(_INDEXES, table["oid"])
        ]
        if indexes:
            parts.append("".join(indexes))
    for function in await connection.fetch(_FUNCTIONS):
        parts.append(
            f"CREATE OR REPLACE FUNCTION {function['proname']}({function['arguments']})\n"
            f"RETURNS {function['result']} LANGUAGE {function['lanname']}"
            f"{function['volatility']} AS $$"
            f"{function['prosrc'].rstrip()}\n$$;\n"
        )
    return "\n".join(parts)
