"""Every receiver configuration the docs show is one `callbox check-config` accepts: each
```toml block with a ``[[receivers]]`` table in README.md and docs/*.md, with its ``env:``
variables set. (docs/configuration.md's example of mistakes is checked, error for error, by
tests/test_configuration_doc.py, and is left out here.)"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from callbox.cli import main

ROOT = Path(__file__).resolve().parents[1]
DELIBERATELY_WRONG = {"docs/configuration.md"}


def documented_configs() -> list[tuple[str, str]]:
    configs = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        name = str(path.relative_to(ROOT))
        if name in DELIBERATELY_WRONG:
            continue
        blocks = re.findall(r"```toml\n(.*?)```", path.read_text(), flags=re.DOTALL)
        configs += [
            (f"{name}#{n}", block) for n, block in enumerate(blocks) if "[[receivers]]" in block
        ]
    return configs


@pytest.mark.parametrize(
    ("where", "config"), documented_configs(), ids=lambda v: v if "#" in v else ""
)
def test_a_documented_configuration_is_valid(
    where: str,
    config: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name in re.findall(r"env:([A-Za-z_][A-Za-z0-9_]*)", config):
        # Base64 of 32 bytes: a secret, a token, and an Ed25519 public key alike.
        monkeypatch.setenv(name, base64.b64encode(bytes(range(1, 33))).decode())
    path = tmp_path / "callbox.toml"
    path.write_text(config)
    assert main(["check-config", str(path)]) == 0, capsys.readouterr().err
    assert ": OK (" in capsys.readouterr().out
