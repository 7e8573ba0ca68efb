"""``callbox export-schema``: write the schema's SDL, or check a file against it (CI)."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

from callbox.graphql.schema import schema_sdl

REGENERATE = "uv run callbox export-schema {path}"


def export_schema(file: str | None, *, check: str | None = None) -> int:
    """Exit status: 0 written or up to date, 1 out of date, 2 bad usage."""
    if file and check:
        print("callbox: give a FILE to write or --check FILE, not both", file=sys.stderr)
        return 2
    sdl = schema_sdl()
    if check is not None:
        return _check(Path(check), sdl)
    if file:
        Path(file).write_text(sdl, encoding="utf-8")
        print(f"callbox: wrote the GraphQL schema to {file}")
    else:
        sys.stdout.write(sdl)
    return 0


def _check(path: Path, sdl: str) -> int:
    try:
        current = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        print(
            f"callbox: {path} does not exist; create it with: {REGENERATE.format(path=path)}",
            file=sys.stderr,
        )
        return 1
    if current == sdl:
        print(f"callbox: {path} matches the code's GraphQL schema")
        return 0
    print(
        f"callbox: {path} differs from the code's GraphQL schema; regenerate it with:"
        f" {REGENERATE.format(path=path)}",
        file=sys.stderr,
    )
    diff = difflib.unified_diff(
        current.splitlines(keepends=True),
        sdl.splitlines(keepends=True),
        fromfile=str(path),
        tofile="schema from the code",
    )
    sys.stderr.writelines(list(diff)[:200])
    return 1
