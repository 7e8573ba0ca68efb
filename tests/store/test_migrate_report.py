"""`callbox migrate` says what it applied (Piccolo's own output contradicted itself on an
empty database: "5 migrations already complete", then "5 migrations not yet run")."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from callbox.cli import main
from callbox.store.migrate import run_migrations
from callbox.store.sql_functions import sql_function_files

MIGRATION_IDS = sorted(
    path.stem for path in (Path(__file__).resolve().parents[2] / "migrations").glob("callbox_*.py")
)


async def test_the_report_names_what_was_applied(create_database: object) -> None:
    url: str = await create_database()  # type: ignore[operator]
    first = await run_migrations(url)
    assert len(first.applied) == len(MIGRATION_IDS)
    assert first.functions == len(sql_function_files())
    assert first.describe().startswith(f"applied {len(MIGRATION_IDS)} migrations (")
    second = await run_migrations(url)
    assert second.applied == []
    assert second.describe().startswith("no migration was pending;")


def test_callbox_migrate_prints_what_it_applied(
    create_database: object, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A plain test: the command runs its own event loop, as it does from the shell.
    url: str = asyncio.run(create_database())  # type: ignore[operator]
    monkeypatch.setenv("CALLBOX_DATABASE_URL", url)
    monkeypatch.delenv("CALLBOX_CONFIG", raising=False)
    assert main(["migrate"]) == 0
    printed = capsys.readouterr().out
    assert f"callbox: applied {len(MIGRATION_IDS)} migrations (" in printed
    assert "up to date" in printed
    assert main(["migrate"]) == 0
    assert "callbox: no migration was pending;" in capsys.readouterr().out
