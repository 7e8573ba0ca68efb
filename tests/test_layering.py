"""The package layering (pyproject.toml, [tool.importlinter]) holds, and the check catches an
upward import: run on a copy of the package with one added, it fails naming it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(package_parent: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(REPO / "pyproject.toml")],
        cwd=package_parent,
        env={**os.environ, "PYTHONPATH": str(package_parent)},
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_layers_hold() -> None:
    result = _lint_imports(REPO / "app")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Callbox layers KEPT" in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    shutil.copytree(
        REPO / "app" / "callbox",
        tmp_path / "callbox",
        ignore=shutil.ignore_patterns("__pycache__", "static"),
    )
    writer = tmp_path / "callbox" / "store" / "writer.py"
    writer.write_text(writer.read_text() + "\nfrom callbox.graphql import schema  # upward\n")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert "Callbox layers BROKEN" in result.stdout
    assert "callbox.store.writer -> callbox.graphql.schema" in result.stdout
