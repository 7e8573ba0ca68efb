"""The Piccolo Table classes tell the truth about the migrated database, both ways.

The DDL is hand-written in migrations/, so nothing but this test keeps ``callbox.model.tables``
honest: every declared column exists with a compatible type, nullability, primary key and
foreign key; every database column is declared; every ``callbox_*`` table has a class.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from piccolo.columns import (
    JSON,
    JSONB,
    UUID,
    BigInt,
    BigSerial,
    Boolean,
    Bytea,
    Char,
    Column,
    Date,
    DoublePrecision,
    ForeignKey,
    Integer,
    Interval,
    Numeric,
    Real,
    Serial,
    SmallInt,
    Text,
    Time,
    Timestamp,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.table import Table

from callbox.model.tables import ALL_TABLES

# Piccolo column class -> the type Postgres reports for it (``format_type``). Looked up along
# the class's MRO, most specific first, so BigInt is not taken for its base class Integer.
# Varchar and Char carry their length; ForeignKey takes its target primary key's type.
_POSTGRES_TYPES: dict[type[Column], str] = {
    Text: "text",
    SmallInt: "smallint",
    Integer: "integer",
    BigInt: "bigint",
    Serial: "integer",
    BigSerial: "bigint",
    Boolean: "boolean",
    Timestamptz: "timestamp with time zone",
    Timestamp: "timestamp without time zone",
    Date: "date",
    Time: "time without time zone",
    Interval: "interval",
    JSONB: "jsonb",
    JSON: "json",
    Bytea: "bytea",
    UUID: "uuid",
    Real: "real",
    DoublePrecision: "double precision",
    Numeric: "numeric",
}

# Piccolo's OnDelete -> pg_constraint.confdeltype.
_ON_DELETE_CODES: dict[OnDelete, str] = {
    OnDelete.no_action: "a",
    OnDelete.restrict: "r",
    OnDelete.cascade: "c",
    OnDelete.set_null: "n",
    OnDelete.set_default: "d",
}

# callbox_* tables in the database that deliberately have no Table class. Empty today: add a
# table here only with a comment saying why Piccolo must not (or need not) know it.
TABLES_WITHOUT_CLASS: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class DatabaseColumn:
    type: str
    nullable: bool
    primary_key: bool
    references: str | None  # the referenced table of a single-column foreign key
    on_delete: str | None  # its pg_constraint.confdeltype


def expected_type(column: Column) -> str | None:
    """The Postgres type a Piccolo column stands for, or None when this test knows none."""
    if isinstance(column, ForeignKey):
        target = column._foreign_key_meta.resolved_references._meta.primary_key
        return expected_type(target)
    if isinstance(column, Char):
        return f"character({column.length})"
    if isinstance(column, Varchar):
        return f"character varying({column.length})"
    for cls in type(column).__mro__:
        if cls in _POSTGRES_TYPES:
            return _POSTGRES_TYPES[cls]
    if not type(column).__module__.startswith("piccolo."):
        # Our own column classes (tables.Xid8) name their Postgres type in column_type.
        return str(column.column_type).lower()
    return None


async def database_columns(db: asyncpg.Connection, table: str) -> dict[str, DatabaseColumn]:
    rows = await db.fetch(
        """
        SELECT a.attname AS name,
            format_type(a.atttypid, a.atttypmod) AS type,
            NOT a.attnotnull AS nullable,
            EXISTS (
                SELECT FROM pg_constraint p
                WHERE p.conrelid = a.attrelid AND p.contype = 'p' AND a.attnum = ANY (p.conkey)
            ) AS primary_key,
            fk.confrelid::regclass::text AS references,
            fk.confdeltype::text AS on_delete
        FROM pg_attribute a
        LEFT JOIN pg_constraint fk ON fk.conrelid = a.attrelid AND fk.contype = 'f'
            AND fk.conkey = ARRAY[a.attnum]
        WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY a.attnum
        """,
        table,
    )
    return {
        row["name"]: DatabaseColumn(
            type=row["type"],
            nullable=row["nullable"],
            primary_key=row["primary_key"],
            references=row["references"],
            on_delete=row["on_delete"],
        )
        for row in rows
    }


def declared_mismatches(table: type[Table], in_database: dict[str, DatabaseColumn]) -> list[str]:
    """What the Table class says about its columns that the database contradicts."""
    name = table._meta.tablename
    problems: list[str] = []
    for column in table._meta.columns:
        column_name = column._meta.db_column_name
        where = f"{name}.{column_name} ({type(column).__name__})"
        actual = in_database.get(column_name)
        if actual is None:
            problems.append(f"{where}: declared in {table.__name__}, missing in the database")
            continue
        expected = expected_type(column)
        if expected is None:
            problems.append(f"{where}: this test knows no Postgres type for the column class")
        elif expected != actual.type:
            problems.append(f"{where}: declared as {expected}, the database has {actual.type}")
        if column._meta.null != actual.nullable:
            problems.append(
                f"{where}: declared null={column._meta.null}, the database column is "
                + ("nullable" if actual.nullable else "NOT NULL")
            )
        if column._meta.primary_key != actual.primary_key:
            problems.append(
                f"{where}: declared primary_key={column._meta.primary_key},"
                f" the database says {actual.primary_key}"
            )
        if isinstance(column, ForeignKey):
            target = column._foreign_key_meta.resolved_references._meta.tablename
            on_delete = _ON_DELETE_CODES[column._foreign_key_meta.on_delete]
            if actual.references != target:
                problems.append(
                    f"{where}: declared a foreign key to {target}, the database has"
                    f" {actual.references or 'no foreign key'}"
                )
            elif actual.on_delete != on_delete:
                problems.append(
                    f"{where}: declared on_delete={column._foreign_key_meta.on_delete.name},"
                    f" the database's confdeltype is {actual.on_delete!r}"
                )
        elif actual.references is not None:
            problems.append(
                f"{where}: the database has a foreign key to {actual.references},"
                " the class declares a plain column"
            )
    return problems


def undeclared_columns(table: type[Table], in_database: dict[str, DatabaseColumn]) -> list[str]:
    """Database columns of the table that its class does not declare."""
    declared = {column._meta.db_column_name for column in table._meta.columns}
    return [
        f"{table._meta.tablename}.{column_name} ({actual.type}"
        f"{'' if actual.nullable else ' NOT NULL'}): in the database,"
        f" not declared in {table.__name__}"
        for column_name, actual in in_database.items()
        if column_name not in declared
    ]


async def test_every_declared_column_exists_with_its_type_and_nullability(
    db: asyncpg.Connection,
) -> None:
    problems: list[str] = []
    for table in ALL_TABLES:
        in_database = await database_columns(db, table._meta.tablename)
        problems += declared_mismatches(table, in_database)
    assert not problems, "Table classes that lie:\n" + "\n".join(problems)


async def test_every_database_column_is_declared(db: asyncpg.Connection) -> None:
    problems: list[str] = []
    for table in ALL_TABLES:
        in_database = await database_columns(db, table._meta.tablename)
        problems += undeclared_columns(table, in_database)
    assert not problems, "Columns the Table classes do not declare:\n" + "\n".join(problems)


async def test_every_callbox_table_has_a_class(db: asyncpg.Connection) -> None:
    in_database = {
        row["tablename"]
        for row in await db.fetch(
            "SELECT tablename FROM pg_tables"
            " WHERE schemaname = current_schema() AND tablename LIKE 'callbox\\_%'"
        )
    }
    declared = {table._meta.tablename for table in ALL_TABLES}
    assert in_database, "no callbox_* tables found: is the database migrated?"
    without_class = sorted(in_database - declared - TABLES_WITHOUT_CLASS)
    assert not without_class, f"callbox_* tables without a Table class: {without_class}"
    gone = sorted((declared | TABLES_WITHOUT_CLASS) - in_database)
    assert not gone, f"Table classes or allowlisted tables missing in the database: {gone}"
