"""schema.graphql is the code's schema; ``callbox export-schema`` writes and checks it."""

from __future__ import annotations

from pathlib import Path

import pytest

from callbox.cli import main
from callbox.graphql.schema import schema_sdl

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema.graphql"


def test_schema_graphql_is_current() -> None:
    assert SCHEMA_FILE.read_text(encoding="utf-8") == schema_sdl(), (
        "schema.graphql is out of date: run `uv run callbox export-schema schema.graphql`"
    )


def test_export_schema_writes_prints_and_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "schema.graphql"
    assert main(["export-schema", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == schema_sdl()
    assert main(["export-schema", "--check", str(target)]) == 0
    capsys.readouterr()

    assert main(["export-schema"]) == 0
    assert capsys.readouterr().out == schema_sdl()

    target.write_text(schema_sdl().replace("totalCount: Int!", "total: Int!"), encoding="utf-8")
    assert main(["export-schema", "--check", str(target)]) == 1
    error = capsys.readouterr().err
    assert f"{target} differs from the code's GraphQL schema" in error
    assert f"uv run callbox export-schema {target}" in error
    assert "+  totalCount: Int!" in error

    missing = tmp_path / "missing.graphql"
    assert main(["export-schema", "--check", str(missing)]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["export-schema", str(target), "--check", str(target)]) == 2
