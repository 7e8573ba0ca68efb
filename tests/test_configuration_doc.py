"""docs/configuration.md's examples are true: its variables load, its error listing is exact."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from callbox.cli import main
from callbox.settings import load_settings

DOC = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC, flags=re.DOTALL)


def test_the_documented_variables_load() -> None:
    (script,) = _blocks("sh")
    environ = dict(
        shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in script.splitlines()
    )
    settings = load_settings(None, environ=environ)
    assert (settings.server.host, settings.server.port) == ("0.0.0.0", 9000)
    assert settings.server.trusted_proxies == ["10.0.0.0/8"]
    assert settings.database.url == "postgresql://callbox@db.internal/callbox"
    assert settings.database.pool_max_size == 20
    assert settings.logging.level == "debug"
    assert settings.metrics.enabled and settings.metrics.bearer == ["env:METRICS_TOKEN"]
    assert settings.retention.raw_days == 30
    assert settings.graphql.introspection is False


def test_the_documented_problems_are_what_check_config_says(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (config,) = _blocks("toml")
    listing = _blocks("text")[0]
    path = tmp_path / "callbox.toml"
    path.write_text(config)
    assert main(["check-config", str(path)]) == 2
    assert capsys.readouterr().err == listing
