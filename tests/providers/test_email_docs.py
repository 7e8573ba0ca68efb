"""docs/mailgun.md and docs/postmark.md: their receiver configurations load and are ready to
serve, and their commands are the CLI's."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest

from callbox.cli import build_parser
from callbox.receivers import prepare_receiver
from callbox.settings import settings_from_mapping

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = ["mailgun.md", "postmark.md"]


def blocks(page: str, language: str) -> list[str]:
    text = (DOCS / page).read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


@pytest.mark.parametrize("page", PAGES)
def test_the_receiver_configuration_is_ready_to_serve(
    page: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    configs = blocks(page, "toml")
    assert configs
    for config in configs:  # postmark.md: basic auth alone, then with Postmark's addresses
        for name in re.findall(r"env:([A-Z_]+)", config):
            monkeypatch.setenv(name, "user:value-of-" + name.lower())
        settings = settings_from_mapping(tomllib.loads(config))
        (receiver,) = settings.receivers
        assert receiver.provider == page.removesuffix(".md")
        ready = prepare_receiver(receiver, 0)
        assert ready.verifies_signatures is (page == "mailgun.md")
        assert ready.basic or ready.verifies_signatures  # authenticated either way


def test_postmark_s_documented_addresses_are_the_ones_tested() -> None:
    """docs/postmark.md's ip_allow is what tests/integration/test_postmark_e2e.py checks."""
    from tests.integration.test_postmark_e2e import POSTMARK_WEBHOOK_ADDRESSES

    configs = [tomllib.loads(config) for config in blocks("postmark.md", "toml")]
    allowed = [c["receivers"][0]["auth"].get("ip_allow") for c in configs]
    assert allowed == [None, list(POSTMARK_WEBHOOK_ADDRESSES)]


@pytest.mark.parametrize("page", PAGES)
def test_the_commands_are_the_cli_s(page: str) -> None:
    (command,) = blocks(page, "sh")
    words = shlex.split(command.replace("\\\n", " "))
    assert words[:3] == ["uv", "run", "callbox"]
    arguments = build_parser().parse_args(words[3:])
    assert (arguments.command, arguments.provider) == ("send-sample", page.removesuffix(".md"))
