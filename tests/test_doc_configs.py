"""Every receiver configuration the docs show is one `callbox check-config` accepts: each
```toml block with a ``[[receivers]]`` table in README.md and docs/*.md, with its ``env:``
variables set. (docs/configuration.md's example of mistakes is checked, error for error, by
tests/test_configuration_doc.py, and is left out here.)"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from callbox.cli import main

ROOT = Path(__file__).resolve().parents[1]
DELIBERATELY_WRONG = {"docs/configuration.md"}

KEY_VALUES = (
    # Base64 of 32 bytes: a secret, a token, and an Ed25519 public key alike.
    base64.b64encode(bytes(range(1, 33))).decode(),
    # An ECDSA P-256 public key (SendGrid), base64 DER.
    base64.b64encode(
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    ).decode(),
    "arn:aws:sns:eu-west-1:123456789012:callbox-ses-events",  # an SNS topic
)
"""What the docs' ``env:`` variables are set to: one of these is a key of each kind."""


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


CONFIGS = documented_configs()


@pytest.mark.parametrize(("where", "config"), CONFIGS, ids=[where for where, _ in CONFIGS])
def test_a_documented_configuration_is_valid(
    where: str,
    config: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    names = re.findall(r"env:([A-Za-z_][A-Za-z0-9_]*)", config)
    path = tmp_path / "callbox.toml"
    path.write_text(config)
    refusals = []
    for value in KEY_VALUES:  # whichever kind of key the provider takes
        for name in names:
            monkeypatch.setenv(name, value)
        if main(["check-config", str(path)]) == 0:
            assert ": OK (" in capsys.readouterr().out
            return
        refusals.append(capsys.readouterr().err)
    raise AssertionError(refusals)
