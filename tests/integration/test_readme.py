"""The README's examples run: its curl commands against a served Callbox, its config file."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import graphql
from callbox.cli import main

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def _graphql_examples() -> list[str]:
    """Each query, mutation and subscription of the README's GraphQL blocks (split at the
    comment lines)."""
    return [
        part.strip()
        for block in _blocks("graphql")
        for part in re.split(r"^#.*$", block, flags=re.MULTILINE)
        if part.strip()
    ]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
async def test_readme_curl_examples_get_200(create_database) -> None:  # type: ignore[no-untyped-def]
    url = await create_database()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CALLBOX_")}
    env["CALLBOX_DATABASE_URL"] = url
    server = subprocess.Popen(
        [sys.executable, "-m", "callbox", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.head(f"http://127.0.0.1:{port}/hooks/notify", timeout=1)
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.2)
        commands = [block for block in _blocks("sh") if "curl " in block]
        assert len(commands) >= 2
        script = "curl() { command curl -s -o /dev/null -w '%{http_code}\\n' \"$@\"; }\n"
        script += "\n".join(commands).replace("localhost:8000", f"localhost:{port}")
        result = subprocess.run(
            ["bash", "-c", script], capture_output=True, text=True, timeout=60, check=True
        )
        codes = result.stdout.split()
        invocations = sum(1 for line in script.splitlines() if line.startswith("curl "))
        assert invocations >= 6
        assert codes == ["200"] * invocations
        # The conversation example, as written (a national number, no receiver named), finds
        # the thread of the Notify reply from +447700900123.
        (conversations,) = [part for part in _graphql_examples() if "conversations(" in part]
        answer = httpx.post(
            f"http://127.0.0.1:{port}/graphql", json={"query": conversations}, timeout=10
        )
        assert answer.status_code == 200, answer.text
        edges = answer.json()["data"]["conversations"]["edges"]
        assert [edge["node"]["theirAddress"] for edge in edges] == ["+447700900123"]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_readme_config_example_is_valid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (config,) = _blocks("toml")
    path = tmp_path / "callbox.toml"
    path.write_text(config)
    for name in re.findall(r"env:([A-Z_]+)", config):
        monkeypatch.setenv(name, "value-of-" + name.lower())
    assert main(["check-config", str(path)]) == 0
    assert "OK (5 receivers" in capsys.readouterr().out


def test_readme_wiraya_template_works_with_an_empty_mapping() -> None:
    from callbox.providers.base import InboundRequest, ReceiverContext
    from callbox.providers.wiraya import PROVIDER
    from callbox.providers.wiraya_mapping import WirayaOptions

    (template,) = [block for block in _blocks("json") if "{TYPE}" in block]
    filled = (
        template.replace("{TYPE}", "outgoing sms")
        .replace("{ID}", "1000007")
        .replace("{RECIPIENT}", "46710000123")
        .replace("{STATUS}", "DELIVERED")
        .replace("{DONE_DATEISO}", "2019-01-10T13:00:00Z")
    )
    for placeholder in re.findall(r"\{[A-Z_]+\}", filled):
        filled = filled.replace(placeholder, "")
    (event,) = PROVIDER.parse(
        InboundRequest("POST", filled.encode(), "application/json"),
        ReceiverContext(name="wiraya", options=WirayaOptions()),
    )
    assert (event.provider_message_id, event.provider_status) == ("1000007", "DELIVERED")


async def test_readme_graphql_examples_run(db: object, database_url: str) -> None:
    from callbox.settings import Receiver
    from tests.support import callbox_client, settings_for

    assert len(_blocks("graphql")) == 3
    parts = _graphql_examples()
    # Subscriptions run over WebSocket (tests/subscriptions): here they must be valid.
    sdl = graphql.build_schema((REPO / "schema.graphql").read_text())
    subscriptions = [part for part in parts if part.startswith("subscription")]
    assert len(subscriptions) == 1
    for document in subscriptions:
        assert graphql.validate(sdl, graphql.parse(document)) == [], document
    documents = [part for part in parts if not part.startswith("subscription")]
    settings = settings_for(
        database_url, [Receiver(name="notify", provider="notify")], development=True
    )
    async with callbox_client(settings) as client:
        for document in documents:
            response = await client.post("/graphql", json={"query": document})
            assert response.status_code == 200, response.text
            assert "errors" not in response.json(), (document, response.json())
